// The whole-history backfill of the service process: SIGKILLed in the middle, the next start resumes where
// the pages had committed (at most one page per collection fetched twice); and `npm run sync -- --all`.
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/database.js';
import { HISTORY_FLOOR } from '../../src/sync/history.js';
import { processFixture, type ProcessFixture } from '../support/process-fixture.js';
import { LISTS, TABLES } from '../support/records.js';
import { historyFetched } from '../support/settled.js';
import { runSyncCli, startServerProcess } from '../support/server-process.js';
import { until } from '../support/until.js';

/** Not paced by the budget; the history on connect as a user without WHOOP_HISTORY_SINCE has it. */
const FAST = { WHOOP_RATE_LIMIT_PER_MINUTE: '100000', WHOOP_HISTORY_SINCE: undefined };
const FAST_WHOOP = { rateLimit: { perMinute: 100_000 } as const };

let fixture: ProcessFixture | undefined;
afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

async function withDatabase<T>(f: ProcessFixture, fn: (db: Database) => Promise<T>): Promise<T> {
  const db = await openDatabase(f.testDb);
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

/** Every record of the member at the fake is stored. */
async function expectEverythingStored(f: ProcessFixture): Promise<void> {
  await withDatabase(f, async (db) => {
    for (const name of Object.values(LISTS)) {
      const [row] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${TABLES[name]}`);
      expect(row!.n).toBe(f.whoop.data[name].filter((record) => record.user_id === f.member.user_id).length);
    }
  });
}

describe('the whole-history backfill of the service process', () => {
  it('resumes after a SIGKILL without fetching completed pages again', async () => {
    fixture = await processFixture(FAST, { whoop: { ...FAST_WHOOP, latencyMs: 10 }, days: 3 * 365 });
    const { whoop } = fixture;
    const history = () =>
      whoop.stats.requests.filter((r) => r.path in LISTS && r.query.start === HISTORY_FLOOR.toISOString());
    const first = startServerProcess(fixture.env);
    try {
      await first.listening();
      await until(() => history().filter((r) => r.status === 200).length >= 40, 'the backfill to be well under way', 60_000);
      first.child.kill('SIGKILL');
      await first.exited;
    } finally {
      await first.stop('SIGKILL');
    }
    const beforeRestart = history().length;
    const second = startServerProcess(fixture.env);
    try {
      await second.listening();
      await withDatabase(fixture, (db) => historyFetched(db));
    } finally {
      expect((await second.stop('SIGTERM')).code).toBe(0);
    }
    expect(history().length).toBeGreaterThan(beforeRestart);
    await expectEverythingStored(fixture);
    for (const path of Object.keys(LISTS)) {
      const pages = history().filter((r) => r.path === path).map((r) => r.query.nextToken ?? '');
      // At most the page in flight when the process died is fetched twice.
      expect(pages.length - new Set(pages).size).toBeLessThanOrEqual(1);
    }
  }, 180_000);

  it('npm run sync -- --all fetches the whole history by hand, also with WHOOP_HISTORY_SINCE=off', async () => {
    fixture = await processFixture({ WHOOP_RATE_LIMIT_PER_MINUTE: '100000' }, { whoop: FAST_WHOOP, days: 400 });
    expect(fixture.env.WHOOP_HISTORY_SINCE).toBe('off');
    const all = await runSyncCli(['--all'], fixture.env);
    // Nothing on stderr at all: also no Node warning (Node 24 warns of a negative timer, for one).
    expect(all.stderr).toBe('');
    expect(all.code).toBe(0);
    expect(all.stdout).toMatch(/^✅ whole history stored:$/m);
    expect(all.stdout).toMatch(/member \d+: 100 % \(\d+ pages, \d+ records, back to \d{4}-\d\d-\d\d\)/);
    await expectEverythingStored(fixture);

    // --since bounds it; a complete history is fetched again from the newest record.
    fixture.whoop.resetStats();
    const since = new Date(Date.now() - 30 * 86_400_000).toISOString().slice(0, 10);
    const bounded = await runSyncCli(['--since', since], fixture.env);
    expect(bounded.code, `${bounded.stdout}\n${bounded.stderr}`).toBe(0);
    expect(fixture.whoop.stats.requests.filter((r) => r.path in LISTS).every((r) => r.query.start === `${since}T00:00:00.000Z`)).toBe(true);

    for (const args of [['--since', '2019-02-30'], ['--since', 'yesterday'], ['--all', '--days', '3']]) {
      const refused = await runSyncCli(args, fixture.env);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/^whoop-sync: --/);
    }
  }, 120_000);
});
