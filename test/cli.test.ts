// `npm run sync -- --days N` as a person runs it: a separate process configured by its environment,
// talking to WHOOP over HTTP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../src/db/database.js';
import { startFakeWhoop, type FakeWhoop, type Member } from './fakes/whoop-server.js';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { fakesEnv, serviceEnv } from './support/environment.js';
import { expectedIds } from './support/expected.js';
import { storedIds } from './support/records.js';
import { runSyncCli } from './support/server-process.js';

describe('npm run sync', () => {
  let whoop: FakeWhoop;
  let member: Member;
  let testDb: TestDatabase;
  let env: Record<string, string>;

  beforeAll(async () => {
    whoop = await startFakeWhoop();
    member = whoop.addMember({ first_name: 'Cli' });
    whoop.generate(member.user_id, { days: 45 });
    testDb = await createTestDatabase();
    env = serviceEnv({ db: testDb, whoop, seedUserId: member.user_id });
  });
  afterAll(async () => {
    await whoop?.close();
    await testDb?.drop();
  });

  async function withDatabase<T>(fn: (db: Database) => Promise<T>): Promise<T> {
    const db = await openDatabase(testDb);
    try {
      return await fn(db);
    } finally {
      await db.close();
    }
  }

  it('stores exactly the records of the window and prints the counts; a second run changes no counts', async () => {
    const first = await runSyncCli(['--days', '30'], env);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^✅ synced the last 30 days \(.+ → .+\) for 1 account in \d+\.\d s$/m);

    const { expected, stored, run } = await withDatabase(async (db) => {
      const run = await db.prisma.syncRun.findFirstOrThrow({ orderBy: { id: 'desc' } });
      const window = { start: run.windowStart!, end: run.windowEnd! };
      return {
        run,
        expected: expectedIds(whoop, member.user_id, window),
        stored: await storedIds(db, BigInt(member.user_id)),
      };
    });
    expect(run).toMatchObject({ trigger: 'cli', status: 'succeeded', days: 30 });
    expect(stored).toEqual(expected);
    for (const name of ['cycles', 'recoveries', 'sleeps', 'workouts'] as const) {
      expect(first.stdout).toMatch(new RegExp(`^  ${name}\\s+${expected[name].length} written\\s+0 deleted$`, 'm'));
    }

    const second = await runSyncCli(['--days', '30'], env);
    expect(second.code).toBe(0);
    expect(second.stdout.split('\n').slice(1)).toEqual(first.stdout.split('\n').slice(1));
    expect(await withDatabase((db) => storedIds(db, BigInt(member.user_id)))).toEqual(stored);
    // The seed token was spent once, by the first run; the second used the stored grant.
    expect(whoop.stats.refreshes).toBe(1);
  }, 90_000);

  it('exits non-zero with the reason on one line when the sync fails, after the counts of what it did write', async () => {
    whoop.failNext(5, { status: 500, pathPrefix: '/v2/cycle' });
    const result = await runSyncCli(['--days', '2'], env);
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^❌ sync failed: WHOOP request GET \/developer\/v2\/cycle failed: HTTP 500 \(after 5 attempts/),
    ]);
    expect(result.stdout).toMatch(/^counts before the failure \(.+\):\n {2}cycles +0 written/);
  }, 60_000);

  it('WHOOP unreachable: one line, exit 1, no table of zero counts', async () => {
    const result = await runSyncCli(['--days', '2'], { ...env, WHOOP_API_URL: 'http://127.0.0.1:1', WHOOP_REQUEST_TIMEOUT_SECONDS: '1' });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^❌ sync failed: .*WHOOP.*/)]);
  }, 90_000);

  describe('with no WHOOP account connected', () => {
    let empty: TestDatabase;
    beforeAll(async () => {
      empty = await createTestDatabase();
    });
    afterAll(async () => empty?.drop());

    it('prints one line and exits 1; the stack trace only at LOG_LEVEL=debug', async () => {
      const plain = { ...empty.env, ...fakesEnv(whoop) };
      const result = await runSyncCli(['--days', '2'], plain);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toBe('❌ sync failed: No WHOOP account is connected yet: connect one with /whoop connect in Slack, or from the dashboard at http://localhost:3000/dashboard\n');

      const debug = await runSyncCli(['--days', '2'], { ...plain, LOG_LEVEL: 'debug' });
      expect(debug.code).toBe(1);
      expect(debug.stderr).toMatch(/No WHOOP account is connected yet[^\n]*\\n +at /);
    }, 60_000);
  });

  it('clamps --days into [1, 365] like /sync', async () => {
    const result = await runSyncCli(['--days', '0'], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^✅ synced the last 1 day \(.+ → .+\) for 1 account in \d+\.\d s$/m);
    const run = await withDatabase((db) => db.prisma.syncRun.findFirstOrThrow({ orderBy: { id: 'desc' } }));
    expect(run).toMatchObject({ trigger: 'cli', status: 'succeeded', days: 1 });
  }, 60_000);

  it('refuses a bad --days with usage and exit code 2', async () => {
    const result = await runSyncCli(['--days', 'ten'], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--days must be a whole number (got "ten")');
    expect(result.stderr).toContain('usage: npm run sync -- [--days N]   (a whole number, kept between 1 and 365; default 3)');
  });
});
