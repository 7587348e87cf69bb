// What the tests that start, kill and restart the service process share: a fake WHOOP with one member and
// ten days of records, a fake Slack, a fresh database, and the environment a person would set for them.
import { openDatabase } from '../../src/db/database.js';
import type { SyncRun } from '../../src/generated/prisma/client.js';
import { startFakeSlack, type FakeSlack } from '../fakes/slack-server.js';
import { startFakeWhoop, type FakeWhoop, type FakeWhoopOptions, type Member } from '../fakes/whoop-server.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { serviceEnv, unpaced } from './environment.js';

export interface ProcessFixture {
  whoop: FakeWhoop;
  slack: FakeSlack;
  testDb: TestDatabase;
  member: Member;
  /** The service's environment: schedules off, the WHOOP_REFRESH_TOKEN seed for `member`. */
  env: Record<string, string>;
  /** Every sync run, oldest first, read over a connection of its own. */
  runs(): Promise<SyncRun[]>;
  close(): Promise<void>;
}

/**
 * `overrides` add variables to the environment; an undefined value removes one. `days` of records (default
 * 10) are generated for the member on a fake WHOOP started with `whoop`.
 */
export async function processFixture(
  overrides: Record<string, string | undefined> = {},
  { whoop: options, days = 10 }: { whoop?: FakeWhoopOptions; days?: number } = {},
): Promise<ProcessFixture> {
  const limits = unpaced(options);
  const whoop = await startFakeWhoop(limits.whoop);
  const slack = await startFakeSlack();
  const member = whoop.addMember();
  whoop.generate(member.user_id, { days });
  const testDb = await createTestDatabase();
  const env: Record<string, string> = { ...serviceEnv({ db: testDb, whoop, slack, seedUserId: member.user_id }), ...limits.env, SYNC_SCHEDULES: 'off' };
  for (const [name, value] of Object.entries(overrides)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return {
    whoop,
    slack,
    testDb,
    member,
    env,
    runs: async () => {
      const db = await openDatabase(testDb);
      try {
        return await db.prisma.syncRun.findMany({ orderBy: { id: 'asc' } });
      } finally {
        await db.close();
      }
    },
    close: async () => {
      await whoop.close();
      await slack.close();
      await testDb.drop();
    },
  };
}
