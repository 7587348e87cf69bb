// SIGKILL at chosen moments of the pipeline: after many commands joined one execution, and while result
// messages are being posted. The next start resumes the joined runs as one execution and delivers every
// result at least once.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FakeSlack } from '../fakes/slack-server.js';
import type { FakeWhoop } from '../fakes/whoop-server.js';
import { sendCommand } from '../support/environment.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';
import { until } from '../support/until.js';
import { processFixture, type ProcessFixture } from '../support/process-fixture.js';

describe('the pipeline after a killed process', () => {
  let whoop: FakeWhoop;
  let slack: FakeSlack;
  let env: Record<string, string>;
  let fixture: ProcessFixture | undefined;
  const runs = () => fixture!.runs();
  const firstCyclePages = () => whoop.stats.requests.filter((r) => r.path === '/developer/v2/cycle' && !r.query.nextToken && r.status === 200).length;

  beforeAll(async () => {
    fixture = await processFixture();
    ({ whoop, slack, env } = fixture);
  });
  beforeEach(() => {
    slack.reset();
    whoop.resetStats();
  });
  afterAll(async () => fixture?.close());

  async function killed(first: ServerProcess): Promise<void> {
    first.child.kill('SIGKILL');
    await first.exited;
  }

  it('resumes runs that had joined one execution as one execution', async () => {
    const COMMANDS = 20;
    const first = startServerProcess(env);
    try {
      const url = await first.listening();
      await first.working();
      // One execution is held at WHOOP while the other commands queue up behind it; once it is let go,
      // the queued runs join the next execution, which is slowed down and killed.
      let release = whoop.hold();
      try {
        expect((await sendCommand(url, '3')).status).toBe(200);
        await until(async () => (await runs()).some((r) => r.status === 'running'), 'the first execution');
        const acks = await Promise.all(Array.from({ length: COMMANDS }, () => sendCommand(url, '3')));
        expect(acks.map((a) => a.status)).toEqual(Array(COMMANDS).fill(200));
        await until(async () => (await runs()).filter((r) => r.status === 'queued').length === COMMANDS, 'the commands to queue');
        whoop.setLatency(300);
        release();
        await until(async () => (await runs()).filter((r) => r.status === 'running').length === COMMANDS, 'the queued runs to join one execution');
        release = whoop.hold();
        await killed(first);
      } finally {
        release();
        whoop.setLatency(0);
      }
    } finally {
      await first.stop('SIGKILL');
    }
    whoop.resetStats();
    const second = startServerProcess(env);
    try {
      await second.listening();
      await slack.waitForMessages(COMMANDS, 40_000);
      await until(async () => (await runs()).every((r) => r.reportedAt), 'every result to be recorded');
      expect(slack.messages.every((m) => m.text.startsWith('✅'))).toBe(true);
    } finally {
      expect((await second.stop('SIGTERM')).code).toBe(0);
    }
    expect(firstCyclePages()).toBe(1);
    const after = (await runs()).slice(1);
    expect(after).toHaveLength(COMMANDS);
    expect(new Set(after.map((r) => r.startedAt!.getTime())).size).toBe(1);
    expect(after.every((r) => r.status === 'succeeded' && r.reportedAt)).toBe(true);
  }, 90_000);

  it('delivers every result at least once when killed while posting them', async () => {
    const COMMANDS = 20;
    const before = (await runs()).length;
    const first = startServerProcess(env);
    try {
      const url = await first.listening();
      // Three posts are answered after 400 ms, the others not before the kill: some delivered, the rest in flight.
      slack.failNext(3, { delayMs: 400 }, { method: 'chat.postMessage' });
      slack.failAlways({ delayMs: 60_000 }, { method: 'chat.postMessage' });
      const release = whoop.hold();
      try {
        await Promise.all(Array.from({ length: COMMANDS }, () => sendCommand(url, '2')));
      } finally {
        release();
      }
      await until(() => slack.messages.length >= 3, 'the first result messages', 30_000);
      await killed(first);
    } finally {
      await first.stop('SIGKILL');
      slack.failAlways(null);
    }
    expect(slack.messages.length).toBeLessThan(COMMANDS);
    const second = startServerProcess(env);
    try {
      await second.listening();
      await until(async () => (await runs()).slice(before).every((r) => r.reportedAt), 'every result to be delivered', 40_000);
    } finally {
      expect((await second.stop('SIGTERM')).code).toBe(0);
    }
    // Possibly repeated (a kill mid-post), never lost, and never more than twice.
    expect(slack.messages.length).toBeGreaterThanOrEqual(COMMANDS);
    expect(slack.messages.length).toBeLessThanOrEqual(COMMANDS * 2);
  }, 90_000);
});
