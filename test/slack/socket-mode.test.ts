// Slash commands over Slack Socket Mode, end to end: the real app opens its connection to the fake Slack
// (apps.connections.open, then a WebSocket), the fake sends envelopes the way Slack does, checks the acks,
// sends an envelope again when its ack is lost, refreshes and drops connections.
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FAKE_APP_TOKEN } from '../fakes/slack-socket.js';
import { startApp, testConfig } from '../support/app.js';
import { createTestDatabase } from '../support/database.js';
import { clearRecords } from '../support/records.js';
import { SIGNING_SECRET, sendCommand, startEnvironment, type Environment } from '../support/environment.js';
import { settled } from '../support/settled.js';

describe('/sync over Socket Mode', () => {
  let env: Environment;
  const prisma = () => env.app.app.db.prisma;
  const socket = () => env.slack.socket;
  const idle = () => settled(env.app.app.db);
  const status = async (url = env.app.url) => ((await (await fetch(`${url}/status`)).json()) as { slackSocket: Record<string, unknown> }).slackSocket;
  const openCalls = (outcome: number | string) =>
    env.slack.calls.filter((call) => call.method === 'apps.connections.open' && (call.status === outcome || call.error === outcome)).length;
  const gauge = async (url = env.app.url) => {
    const text = await (await fetch(`${url}/metrics`)).text();
    return Number(/^whoop_sync_slack_socket_connected (\S+)$/m.exec(text)?.[1]);
  };

  beforeAll(async () => {
    // Only the app-level and bot tokens: no signing secret, no public URL.
    env = await startEnvironment({
      days: 30,
      env: { SLACK_APP_TOKEN: FAKE_APP_TOKEN, SLACK_SIGNING_SECRET: '', SLACK_ALLOWED_USER_IDS: 'U0ALICE001', SLACK_ALLOWED_CHANNEL_IDS: 'C0CHANNEL1,C0CHANNEL2' },
    });
    expect((await env.connect()).status).toBe(200);
    await socket().waitFor(() => socket().connected === 1, 'the app to connect');
    // Connecting went through `/whoop connect` over the socket: the tests count from here.
    env.slack.reset();
  });
  afterEach(async () => {
    await idle();
    expect(socket().problems).toEqual([]);
    await clearRecords(env.app.app.db);
    env.slack.reset();
    env.whoop.resetStats();
  });
  afterAll(async () => env?.close());

  it('acknowledges /sync 7 with the ⏳ payload within 3 s, then posts the visible ✅ message', async () => {
    env.whoop.resetStats();
    const release = env.whoop.hold();
    let ack;
    try {
      ack = await socket().command('7');
      expect(ack.payload).toEqual({ response_type: 'ephemeral', text: '⏳ Syncing last 7 days...' });
      // Slack's limit, from the delivery to the ack's arrival; the benchmark measures the real latency.
      expect(ack.afterMs).toBeLessThan(3000);
      // WHOOP has not answered anything yet: the ack did not wait for it.
      expect(env.whoop.stats.requests.filter((r) => r.path.startsWith('/developer') && r.status !== 0)).toEqual([]);
      expect(env.slack.messages).toEqual([]);
    } finally {
      release();
    }
    const [message] = await env.slack.waitForMessages(1);
    expect(message!.channel).toBe('C0CHANNEL1');
    expect(message!.text).toMatch(/^✅ Sync for <@U0ALICE001> done in \d+\.\d s: last 7 days \(.* UTC\), 1 account\ncycles \d+ · recoveries \d+ · sleeps \d+ · workouts \d+\n\*Jo Tester\* · /);
    const run = await prisma().syncRun.findFirstOrThrow();
    expect(run).toMatchObject({ trigger: 'slack', requestedBy: 'U0ALICE001', channelId: 'C0CHANNEL1', days: 7, status: 'succeeded', envelopeId: ack.envelopeId });
    expect(socket().deliveries).toHaveLength(1);
  });

  it('parses the argument and applies the allowlists as the HTTP route does', async () => {
    const release = env.whoop.hold();
    try {
      for (const [text, days] of [['', 3], ['abc', 3], ['0', 1], ['999', 365], [' 14 ', 14], ['7.5', 3]] as const) {
        const ack = await socket().command(text);
        expect(ack.payload, `"/sync ${text}"`).toEqual({ response_type: 'ephemeral', text: `⏳ Syncing last ${days} ${days === 1 ? 'day' : 'days'}...` });
      }
      const stranger = await socket().command('3', { fields: { user_id: 'U0MALLORY1' } });
      expect(stranger.payload).toMatchObject({ response_type: 'ephemeral', text: expect.stringMatching(/^🚫 You aren't allowed to run `\/sync`/) });
      const elsewhere = await socket().command('3', { fields: { channel_id: 'C0OTHER001' } });
      expect(elsewhere.payload).toMatchObject({ text: expect.stringMatching(/^🚫 `\/sync` isn't enabled in this channel/) });
      const other = await socket().command('', { fields: { command: '/weather' } });
      expect(other.payload).toMatchObject({ response_type: 'ephemeral', text: expect.stringContaining('/sync [days]') });
    } finally {
      release();
    }
    await idle();
    expect((await prisma().syncRun.findMany({ orderBy: { id: 'asc' } })).map((run) => run.days)).toEqual([3, 3, 1, 365, 14, 3]);
    expect((await env.slack.waitForMessages(6)).every((message) => message.text.startsWith('✅'))).toBe(true);
  });

  it('refuses a command from another workspace with an ephemeral ack, starting nothing', async () => {
    const foreign = await socket().command('3', { fields: { team_id: 'T0ELSEWHERE' } });
    expect(foreign.payload).toEqual({
      response_type: 'ephemeral',
      text: '🚫 This WHOOP Sync only answers commands from its own Slack workspace; nothing was started.',
    });
    expect(await prisma().syncRun.count()).toBe(0);
  });

  it('starts one run for an envelope Slack sends again because its ack was lost', async () => {
    const ack = await socket().command('5', { loseAcks: 1 });
    // The first ack was lost on the way: Slack sent the envelope again and the second ack arrived.
    expect(socket().deliveries.map((d) => [d.envelopeId, d.attempt])).toEqual([
      [ack.envelopeId, 1],
      [ack.envelopeId, 2],
    ]);
    expect(socket().lostAcks.map((lost) => lost.payload)).toEqual([ack.payload]);
    expect(ack.payload).toEqual({ response_type: 'ephemeral', text: '⏳ Syncing last 5 days...' });
    await idle();
    // And again once the run is finished (a late redelivery): the same ack, still no second run.
    const late = await socket().command('5', { envelopeId: ack.envelopeId });
    expect(late.payload).toEqual(ack.payload);
    await idle();
    expect(await prisma().syncRun.count()).toBe(1);
    const [message] = await env.slack.waitForMessages(1);
    expect(message!.text).toMatch(/^✅ Sync for <@U0ALICE001> done in .*: last 5 days/);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(env.slack.messages).toHaveLength(1);
    const metrics = await (await fetch(`${env.app.url}/metrics`)).text();
    expect(metrics).toMatch(/^whoop_sync_slack_commands_total\{outcome="duplicate"\} 2$/m);
  });

  it('reconnects after Slack refreshes the connection, and after the socket is cut', async () => {
    const before = socket().connections;
    expect(await status()).toMatchObject({ enabled: true, state: 'connected' });
    expect(await gauge()).toBe(1);

    socket().disconnect('refresh_requested');
    await socket().waitFor(() => socket().connections === before + 1 && socket().connected === 1, 'a new connection after the refresh');
    expect((await socket().command('2')).payload).toMatchObject({ text: '⏳ Syncing last 2 days...' });

    socket().cut();
    await socket().waitFor(() => socket().connections === before + 2 && socket().connected === 1, 'a new connection after the cut');
    expect((await socket().command('4')).payload).toMatchObject({ text: '⏳ Syncing last 4 days...' });

    expect(await status()).toMatchObject({ enabled: true, state: 'connected', connections: before + 2 });
    expect(await gauge()).toBe(1);
    await idle();
    expect(await prisma().syncRun.count()).toBe(2);
  }, 60_000);

  it('keeps trying, with backoff, while Slack cannot be reached, and shows it', async () => {
    env.slack.failAlways({ status: 503 }, { method: 'apps.connections.open' });
    try {
      socket().cut();
      await socket().waitFor(() => openCalls(503) >= 2, 'two failed attempts');
      expect(socket().connected).toBe(0);
      expect(await status()).toMatchObject({ enabled: true, state: 'reconnecting', error: expect.stringContaining('503') });
      expect(await gauge()).toBe(0);
      // The HTTP side keeps serving meanwhile.
      expect((await fetch(`${env.app.url}/healthz`)).status).toBe(200);
    } finally {
      env.slack.failAlways(null);
    }
    await socket().waitFor(() => socket().connected === 1, 'the connection to come back', 30_000);
    expect(await status()).toMatchObject({ state: 'connected' });
    expect(await status()).not.toHaveProperty('error');
    expect(await gauge()).toBe(1);
  }, 60_000);

  it('answers 503 on POST /slack/commands without a signing secret, and nothing starts', async () => {
    const response = await sendCommand(env.app.url, '7');
    expect(response.status).toBe(503);
    expect(await prisma().syncRun.count()).toBe(0);
  });

  it('logs a refused app token as an error naming SLACK_APP_TOKEN, stops trying, and keeps the HTTP route serving', async () => {
    for (const [token, fault, code] of [
      ['xapp-1-A0APP00001-1-revoked', undefined, 'invalid_auth'],
      [FAKE_APP_TOKEN, 'not_allowed_token_type', 'not_allowed_token_type'],
    ] as const) {
      if (fault) env.slack.failNext(1, { error: fault }, { method: 'apps.connections.open' });
      const lines: Array<{ level: number; msg: string }> = [];
      const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
      // Its own database: the embedded one serves one process only.
      const otherDb = await createTestDatabase();
      const other = await startApp(
        testConfig(otherDb, { ...env.env, SLACK_APP_TOKEN: token, SLACK_SIGNING_SECRET: SIGNING_SECRET }),
        { loggerInstance: logger },
      );
      try {
        await socket().waitFor(() => openCalls(code) === 1, `apps.connections.open refused with ${code}`);
        const refusal = await (async () => {
          for (let i = 0; i < 100 && !lines.some((line) => line.level === 50); i++) {
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
          return lines.find((line) => line.level === 50);
        })();
        expect(refusal?.msg).toMatch(new RegExp(`^SLACK_APP_TOKEN was refused by Slack \\(${code}\\): .*POST /slack/commands keeps serving\\.$`));
        expect(await status(other.url)).toMatchObject({ enabled: true, state: 'refused', error: `SLACK_APP_TOKEN refused by Slack: ${code}` });
        expect(await gauge(other.url)).toBe(0);
        const ack = await sendCommand(other.url, '1');
        expect(await ack.json()).toEqual({ response_type: 'ephemeral', text: '⏳ Syncing last 1 day...' });
        await settled(other.app.db);
        // A refused token is not tried again: only a new token (and a restart) can fix it.
        expect(openCalls(code)).toBe(1);
      } finally {
        await other.close();
        await otherDb.drop();
      }
      env.slack.reset();
    }
  }, 60_000);
});
