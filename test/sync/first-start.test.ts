// A first start with WHOOP_REFRESH_TOKEN: the seed runs in the background after the server listens, and
// a /sync arriving meanwhile must wait for it instead of finding no account; the start-up recovery must
// leave that live run alone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/database.js';
import { startFakeSlack, type FakeSlack } from '../fakes/slack-server.js';
import { startFakeWhoop, type FakeWhoop, type Member } from '../fakes/whoop-server.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { sendCommand, serviceEnv } from '../support/environment.js';
import { expectedIds } from '../support/expected.js';
import { startServerProcess } from '../support/server-process.js';

describe('a /sync on the first start, while the token store is being seeded', () => {
  let whoop: FakeWhoop;
  let slack: FakeSlack;
  let member: Member;
  let testDb: TestDatabase;

  beforeAll(async () => {
    whoop = await startFakeWhoop();
    slack = await startFakeSlack();
    member = whoop.addMember();
    whoop.generate(member.user_id, { days: 10 });
    testDb = await createTestDatabase();
  });
  afterAll(async () => {
    await whoop?.close();
    await slack?.close();
    await testDb?.drop();
  });

  it('waits for the seed and answers ✅ with the seeded account’s counts, once', async () => {
    // The seed's token refresh is the first WHOOP request: slow it, so the command surely arrives first.
    whoop.slowNext(1, 2_000);
    const server = startServerProcess({ ...serviceEnv({ db: testDb, whoop, slack, seedUserId: member.user_id }), SYNC_SCHEDULES: 'off' });
    try {
      const url = await server.listening();
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      const ack = await sendCommand(url, '5');
      expect(await ack.json()).toEqual({ response_type: 'ephemeral', text: '⏳ Syncing last 5 days...' });
      expect(whoop.stats.refreshes).toBe(0); // the seed had not finished when the command was acknowledged
      const [message] = await slack.waitForMessages(1, 30_000);
      expect(message!.text).toMatch(/^✅ Sync for <@U0ALICE001> done in .*: last 5 days .*, 1 account\n/);
      const db = await openDatabase(testDb);
      try {
        const runs = await db.prisma.syncRun.findMany();
        expect(runs).toHaveLength(1);
        const run = runs[0]!;
        const expected = expectedIds(whoop, member.user_id, { start: run.windowStart!, end: run.windowEnd! });
        expect(run.counts).toMatchObject({
          cycles: { upserted: expected.cycles.length },
          sleeps: { upserted: expected.sleeps.length },
        });
        expect(expected.cycles.length).toBeGreaterThan(3);
        expect(message!.text).toContain(`cycles ${expected.cycles.length} · recoveries ${expected.recoveries.length}`);
      } finally {
        await db.close();
      }
      // Neither the recovery pass nor anything else ran it a second time.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(slack.messages).toHaveLength(1);
      expect(server.output()).not.toContain('resuming sync runs');
    } finally {
      expect((await server.stop('SIGTERM')).code).toBe(0);
    }
  }, 60_000);
});
