// Socket Mode and killed processes: the service entry point, started as a person starts it with only
// SLACK_APP_TOKEN and SLACK_BOT_TOKEN (no signing secret, no public URL), is killed (SIGKILL) after a
// /sync envelope was acknowledged, or after its ack was lost; the next start finishes the run, and an
// envelope Slack sends again meanwhile starts no second run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeSlack } from '../fakes/slack-server.js';
import type { FakeWhoop } from '../fakes/whoop-server.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';
import { processFixture, type ProcessFixture } from '../support/process-fixture.js';

describe('a /sync over Socket Mode interrupted by a killed process', () => {
  let whoop: FakeWhoop;
  let slack: FakeSlack;
  let env: Record<string, string>;

  let fixture: ProcessFixture | undefined;

  beforeAll(async () => {
    fixture = await processFixture({ SLACK_SIGNING_SECRET: undefined });
    ({ whoop, slack, env } = fixture);
    env.SLACK_APP_TOKEN = slack.socket.appToken;
  });
  afterAll(async () => fixture?.close());
  const runs = () => fixture!.runs();

  /** Starts the service and waits for its Socket Mode connection. */
  async function start(): Promise<ServerProcess> {
    const service = startServerProcess(env);
    const connections = slack.socket.connections;
    try {
      // The first start creates the embedded database, which takes a while on a busy machine.
      await service.listening(60_000);
      await slack.socket.waitFor(() => slack.socket.connections > connections && slack.socket.connected === 1, 'the service to connect', 20_000);
    } catch (error) {
      await service.stop('SIGKILL');
      throw error;
    }
    return service;
  }

  /** Kills the service with SIGKILL once its sync is under way (WHOOP holds its answers meanwhile). */
  async function killDuringSync(service: ServerProcess, release: () => void): Promise<void> {
    try {
      await slack.socket
        .waitFor(() => whoop.stats.requests.some((r) => r.path === '/developer/v2/cycle' && r.status === 0), 'the sync to reach WHOOP')
        .catch((error: unknown) => {
          throw new Error(`${String(error)}\nWHOOP requests: ${JSON.stringify(whoop.stats.requests)}\nservice output:\n${service.output()}`);
        });
      service.child.kill('SIGKILL');
      await service.exited;
      await slack.socket.waitFor(() => slack.socket.connected === 0, 'the killed connection to close');
    } finally {
      release();
      await service.stop('SIGKILL');
    }
  }

  it('runs an acknowledged /sync after the restart and posts its result once', async () => {
    const first = await start();
    expect(first.output()).toContain('Slack Socket Mode is on');
    expect(first.output()).not.toContain('SLACK_SIGNING_SECRET is not set');
    await first.working();
    whoop.resetStats();
    const release = whoop.hold();
    const ack = await slack.socket.command('7');
    expect(ack.payload).toEqual({ response_type: 'ephemeral', text: '⏳ Syncing last 7 days...' });
    await killDuringSync(first, release);
    expect(slack.messages).toEqual([]);

    const second = await start();
    try {
      const [message] = await slack.waitForMessages(1, 20_000);
      expect(message!.text).toMatch(/^✅ Sync for <@U0ALICE001> done in .*: last 7 days/);
    } finally {
      expect((await second.stop('SIGTERM')).code).toBe(0);
    }
    expect(await runs()).toMatchObject([{ status: 'succeeded', days: 7, envelopeId: ack.envelopeId, reportError: null }]);
    expect(slack.messages).toHaveLength(1);
    expect(slack.socket.problems).toEqual([]);
  }, 90_000);

  it('acknowledges an envelope sent again after its ack was lost and the process killed, without a second run', async () => {
    slack.reset();
    const before = (await runs()).length;
    const first = await start();
    whoop.resetStats();
    const release = whoop.hold();
    // The ack is lost on its way to Slack, then the process dies: Slack sends the envelope to the next connection.
    const acked = slack.socket.command('6', { loseAcks: 1 });
    await slack.socket.waitFor(() => slack.socket.lostAcks.length === 1, 'the lost ack');
    await killDuringSync(first, release);

    const second = await start();
    try {
      const ack = await acked;
      expect(ack.payload).toEqual({ response_type: 'ephemeral', text: '⏳ Syncing last 6 days...' });
      expect(slack.socket.deliveries.filter((d) => d.envelopeId === ack.envelopeId).length).toBeGreaterThanOrEqual(2);
      const [message] = await slack.waitForMessages(1, 20_000);
      expect(message!.text).toMatch(/^✅ Sync for <@U0ALICE001> done in .*: last 6 days/);
    } finally {
      expect((await second.stop('SIGTERM')).code).toBe(0);
    }
    expect((await runs()).slice(before)).toMatchObject([{ status: 'succeeded', days: 6, envelopeId: (await acked).envelopeId }]);
    expect(slack.messages).toHaveLength(1);
    expect(slack.socket.problems).toEqual([]);
  }, 90_000);
});
