// "Nothing acknowledged is lost": a /sync acknowledged by a process that is then killed (SIGKILL, no
// chance to clean up) in the middle of a 365-day sync is run and answered by the next start, within the
// budget WHOOP enforces (the restarted process counts the requests the killed one sent).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/database.js';
import type { FakeSlack } from '../fakes/slack-server.js';
import type { FakeWhoop } from '../fakes/whoop-server.js';
import type { TestDatabase } from '../support/database.js';
import { sendCommand } from '../support/environment.js';
import { startServerProcess } from '../support/server-process.js';
import { until } from '../support/until.js';
import { processFixture, type ProcessFixture } from '../support/process-fixture.js';

describe('a /sync interrupted by a killed or stopped process', () => {
  let whoop: FakeWhoop;
  let slack: FakeSlack;
  let testDb: TestDatabase;
  let env: Record<string, string>;

  let fixture: ProcessFixture | undefined;

  beforeAll(async () => {
    fixture = await processFixture({}, { whoop: { rateLimit: { perMinute: 100 }, latencyMs: 20 }, days: 400 });
    ({ whoop, slack, testDb, env } = fixture);
  });
  afterAll(async () => fixture?.close());

  it('is run again and answered after the restart', async () => {
    const first = startServerProcess(env);
    try {
      const url = await first.listening();
      await first.working();
      const ack = await sendCommand(url, '365');
      expect(await ack.json()).toEqual({ response_type: 'ephemeral', text: '⏳ Syncing last 365 days...' });
      await until(() => whoop.stats.requests.filter((r) => r.path.startsWith('/developer/v2/')).length >= 40, 'the sync to be under way', 30_000);
      first.child.kill('SIGKILL');
      await first.exited;
    } finally {
      await first.stop('SIGKILL');
    }
    expect(slack.messages).toEqual([]);

    const second = startServerProcess(env);
    try {
      await second.listening();
      const [message] = await slack.waitForMessages(1, 90_000);
      expect(message!.text).toMatch(/^✅ Sync for <@U0ALICE001> done in .*: last 365 days/);
    } finally {
      expect((await second.stop('SIGTERM')).code).toBe(0);
    }
    const db = await openDatabase(testDb);
    try {
      const runs = await db.prisma.syncRun.findMany();
      expect(runs).toHaveLength(1);
      expect(runs[0]).toMatchObject({ status: 'succeeded', trigger: 'slack', days: 365, reportError: null });
      expect(runs[0]!.reportedAt).toBeInstanceOf(Date);
    } finally {
      await db.close();
    }
    expect(slack.messages).toHaveLength(1);
    expect(whoop.stats.rateLimited).toBe(0);
  }, 120_000);

  it('stops on SIGTERM while WHOOP does not answer, and the next start finishes the run', async () => {
    const before = slack.messages.length;
    const first = startServerProcess(env);
    let stoppedInMs: number;
    try {
      const url = await first.listening();
      const release = whoop.hold();
      try {
        const seen = whoop.stats.requests.length;
        expect((await sendCommand(url, '4')).status).toBe(200);
        await until(() => whoop.stats.requests.slice(seen).some((r) => r.path === '/developer/v2/cycle' && r.status === 0), 'the sync to reach WHOOP');
        const started = Date.now();
        // Shutdown gives a running sync 5 s to finish, then cancels it: well within close-with-grace's
        // 10 s, after which the process would be ended with an error.
        expect((await first.stop('SIGTERM')).code).toBe(0);
        stoppedInMs = Date.now() - started;
      } finally {
        release();
      }
    } finally {
      await first.stop('SIGKILL');
    }
    expect(stoppedInMs).toBeLessThan(9_000);
    expect(first.output()).toContain('sync interrupted by shutdown; it will run again at the next start');
    expect(slack.messages).toHaveLength(before);

    const second = startServerProcess(env);
    try {
      await second.listening();
      const [message] = (await slack.waitForMessages(before + 1, 20_000)).slice(before);
      expect(message!.text).toMatch(/^✅ Sync for <@U0ALICE001> done in .*: last 4 days/);
    } finally {
      expect((await second.stop('SIGTERM')).code).toBe(0);
    }
  }, 60_000);
});
