// A delivery acknowledged by a service process that is then killed (SIGKILL) before it reached WHOOP is
// processed by the next start: nothing acknowledged is lost.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/database.js';
import { startFakeWhoop, type FakeWhoop } from '../fakes/whoop-server.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { serviceEnv } from '../support/environment.js';
import { startServerProcess } from '../support/server-process.js';
import { storedCount } from '../support/records.js';
import { until } from '../support/until.js';
import { deliver } from './support.js';

describe('a webhook interrupted by a killed process', () => {
  let whoop: FakeWhoop;
  let testDb: TestDatabase;
  let env: Record<string, string>;
  let userId: number;

  beforeAll(async () => {
    whoop = await startFakeWhoop();
    const member = whoop.addMember();
    userId = member.user_id;
    whoop.generate(member.user_id, { days: 5 });
    testDb = await createTestDatabase();
    env = { ...serviceEnv({ db: testDb, whoop, seedUserId: member.user_id }), SYNC_SCHEDULES: 'off' };
  });
  afterAll(async () => {
    await whoop?.close();
    await testDb?.drop();
  });

  it('is processed after the restart', async () => {
    const sleep = whoop.data.sleeps.find((s) => s.user_id === userId)!;
    const db = await openDatabase(testDb);
    const first = startServerProcess(env);
    try {
      const url = await first.listening();
      await until(async () => (await db.prisma.whoopToken.count().catch(() => 0)) === 1, 'the token seed');
      const release = whoop.hold();
      try {
        expect((await deliver(whoop, url, { user_id: userId, id: sleep.id, type: 'sleep.updated' })).attempts).toEqual([200]);
        await until(() => whoop.stats.requests.some((r) => r.path === `/developer/v2/activity/sleep/${sleep.id}` && r.status === 0), 'the worker to reach WHOOP');
        first.child.kill('SIGKILL');
        await first.exited;
      } finally {
        release();
      }
    } finally {
      await first.stop('SIGKILL');
    }
    try {
      expect(await storedCount(db, 'whoop_sleeps')).toBe(0);
      expect(await db.prisma.webhookEvent.findMany()).toEqual([expect.objectContaining({ status: 'pending', recordId: sleep.id })]);

      const second = startServerProcess(env);
      try {
        await second.listening();
        await until(async () => (await storedCount(db, 'whoop_sleeps', { id: sleep.id })) === 1, 'the sleep to be stored');
        await until(async () => (await db.prisma.webhookEvent.findFirst())?.status === 'done', 'the event to be done');
      } finally {
        const stopped = await second.stop('SIGTERM');
        expect(stopped.code, second.output().slice(-3000)).toBe(0);
      }
    } finally {
      await db.close();
    }
  }, 60_000);
});
