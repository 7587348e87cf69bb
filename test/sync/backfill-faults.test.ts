// The whole-history backfill when WHOOP fails: a member whose grant WHOOP refuses is paused, shown as needing
// to be reconnected, and resumed from its checkpoint once connected again, while the others go on; a page
// WHOOP answers with a 5xx or with a body that fails validation rests its collection (5 s, doubling) while the
// others go on, and the same page is fetched again afterwards.
import { afterEach, describe, expect, it } from 'vitest';
import { HISTORY_FLOOR } from '../../src/sync/history.js';
import type { FakeWhoop, FaultRequest, Member } from '../fakes/whoop-server.js';
import { startEnvironment, type Environment } from '../support/environment.js';
import { LISTS, TABLES } from '../support/records.js';
import { historyFetched } from '../support/settled.js';
import { until } from '../support/until.js';

const YEAR = 365;
/** WHOOP's limit as the fake reports it, and the budget's: high enough not to pace these tests. */
const FAST = { WHOOP_RATE_LIMIT_PER_MINUTE: '100000', WHOOP_HISTORY_SINCE: '' };
const FAST_WHOOP = { rateLimit: { perMinute: 100_000 } };
/** Attempts of one request before it fails (src/whoop/http.ts): a page fails when all of them did. */
const ATTEMPTS = 5;
/** The first rest after a failed page (src/sync/backfill.ts); it doubles with each failure in a row. */
const REST_MS = 5_000;
/** The fake's clock (performance) and the service's (Date) may differ by a little. */
const CLOCKS_MS = 100;
const METRICS_TOKEN = 'metrics-token-for-tests';
const CYCLES = '/developer/v2/cycle';
const SLEEPS = '/developer/v2/activity/sleep';

type Request = FakeWhoop['stats']['requests'][number];

/** The backfill's list requests (their window starts at the floor), of one member when given. */
const historyRequests = (whoop: FakeWhoop, member?: Member): Request[] =>
  whoop.stats.requests.filter(
    (r) => LISTS[r.path] && r.query.start === HISTORY_FLOOR.toISOString() && (!member || r.userId === member.user_id),
  );
/** A backfill page after a collection's first: the first that carries a next token. */
const laterPage = (path: string) => (r: FaultRequest) =>
  r.path === path && r.query.start === HISTORY_FLOOR.toISOString() && Boolean(r.query.nextToken);
const pageKey = (r: Request) => `${r.path}?${r.query.nextToken ?? ''}`;

let env: Environment | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

/** How many of `member`'s records the fake holds, and the service stores, per collection. */
async function counts(e: Environment, member: Member) {
  const held: Record<string, number> = {};
  const stored: Record<string, number> = {};
  for (const name of Object.values(LISTS)) {
    held[name] = e.whoop.data[name].filter((record) => record.user_id === member.user_id).length;
    const [row] = await e.app.app.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${TABLES[name]} WHERE user_id = $1::bigint`, [member.user_id]);
    stored[name] = row!.n;
  }
  return { held, stored };
}

/** Every page answered with records once: none requested again after it was stored. */
function expectEachPageStoredOnce(requests: Request[]): void {
  const answered = requests.filter((r) => r.status === 200).map(pageKey);
  expect(new Set(answered).size).toBe(answered.length);
}

describe('the whole-history backfill when WHOOP fails', () => {
  it("pauses a member whose grant WHOOP refuses, goes on with the others, and resumes from the checkpoint once reconnected", async () => {
    env = await startEnvironment({ days: 3 * YEAR, whoop: FAST_WHOOP, env: { ...FAST, METRICS_TOKEN } });
    const { whoop, member } = env;
    const other = whoop.addMember({ first_name: 'Sam', last_name: 'Other', email: 'sam@example.com' });
    whoop.generate(other.user_id, { days: YEAR });
    whoop.setLatency(20);
    expect((await env.connect()).status).toBe(200);
    expect((await env.connect(other)).status).toBe(200);
    const { db } = env.app.app;
    await until(() => historyRequests(whoop, member).length >= 8, "the member's backfill to be under way");

    // The member ends the app's access in WHOOP: the next page is refused (401), and so is the refresh.
    whoop.revokeMember(member.user_id);
    const statusOf = async (who: Member) => {
      const [row] = await db.query<{ status: string }>(`SELECT status FROM whoop_tokens WHERE user_id = $1::bigint`, [who.user_id]);
      return row!.status;
    };
    await until(async () => (await statusOf(member)) === 'reauthorization_required', 'the account to need reconnecting');
    const checkpoints = await db.query<{ collection: string; nextToken: string | null; completedAt: Date | null }>(
      `SELECT collection, next_token AS "nextToken", completed_at AS "completedAt" FROM backfill_progress WHERE user_id = $1::bigint`,
      [member.user_id],
    );
    expect(checkpoints.filter((row) => row.completedAt === null)).toHaveLength(4);
    const paused = whoop.stats.requests.filter((r) => r.userId === member.user_id);
    expect(paused.at(-1)!.status).toBe(401);

    // The other member's history is fetched meanwhile, and not a single request more for the paused one.
    await historyFetched(db);
    expect(await statusOf(other)).toBe('active');
    const otherCounts = await counts(env, other);
    expect(otherCounts.stored).toEqual(otherCounts.held);
    expect(whoop.stats.requests.filter((r) => r.userId === member.user_id)).toHaveLength(paused.length);

    // /status says which account must be connected again, and that its history is not complete.
    const response = await fetch(`${env.app.url}/status`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    const status = (await response.json()) as {
      accounts: Array<{ userId: string; reauthorizationRequired: boolean; status: string }>;
      history: {
        requestsLeft: number;
        paused: number;
        text: string;
        members: Array<{ userId: string; complete: boolean; paused: boolean; text: string }>;
      };
    };
    const account = (who: Member) => status.accounts.find((a) => a.userId === String(who.user_id));
    expect(account(member)).toMatchObject({ reauthorizationRequired: true, status: 'reauthorization_required' });
    expect(account(other)).toMatchObject({ reauthorizationRequired: false, status: 'active' });
    const history = (who: Member) => status.history.members.find((m) => m.userId === String(who.user_id));
    expect(history(member)).toMatchObject({ complete: false, paused: true });
    expect(history(member)!.text).toMatch(/^history: \d+ % fetched, back to \d{4}-\d\d-\d\d so far, paused until the account is connected again$/);
    expect(history(other)).toMatchObject({ complete: true, paused: false });
    // The whole install's line promises no time: nothing is fetched until the account is connected again.
    expect(status.history).toMatchObject({ requestsLeft: 0, paused: 1, text: 'paused until the account is connected again' });

    // Connected again: each collection goes on from the page it had reached, and no page is fetched twice.
    const before = historyRequests(whoop, member).length;
    expect((await env.connect()).status).toBe(200);
    await historyFetched(db);
    const mine = historyRequests(whoop, member);
    for (const { collection, nextToken } of checkpoints) {
      expect(nextToken, collection).not.toBeNull();
      const path = Object.keys(LISTS).find((p) => LISTS[p] === collection)!;
      const resumed = mine.slice(before).find((r) => r.path === path);
      expect(resumed?.query.nextToken ?? null, collection).toBe(nextToken);
    }
    expectEachPageStoredOnce(mine);
    const memberCounts = await counts(env, member);
    expect(memberCounts.stored).toEqual(memberCounts.held);
  }, 120_000);

  it('rests a collection whose page WHOOP answers with a 5xx, goes on with the others, then fetches the same page again', async () => {
    env = await startEnvironment({ days: YEAR, whoop: FAST_WHOOP, env: FAST });
    const { whoop, member } = env;
    // The second page of cycles fails on every attempt of its request.
    whoop.failNext(ATTEMPTS, { status: 503, pathPrefix: '/v2/cycle', when: laterPage(CYCLES) });
    expect((await env.connect()).status).toBe(200);
    await historyFetched(env.app.app.db, 90_000);

    const requests = historyRequests(whoop);
    const failed = requests.find((r) => r.status === 503)!;
    const page = requests.filter((r) => pageKey(r) === pageKey(failed));
    expect(page.map((r) => r.status)).toEqual([...Array<number>(ATTEMPTS).fill(503), 200]);
    const failedAt = page[ATTEMPTS - 1]!.answeredAt!;
    const retriedAt = page[ATTEMPTS]!.at;
    expect(retriedAt - failedAt).toBeGreaterThanOrEqual(REST_MS - CLOCKS_MS);
    // While cycles rest, no page of theirs is asked for, and the other collections' pages are.
    const resting = requests.filter((r) => r.at > failedAt && r.at < retriedAt);
    expect(resting.filter((r) => r.path === CYCLES)).toHaveLength(0);
    expect(new Set(resting.map((r) => LISTS[r.path]))).toEqual(new Set(['sleeps', 'recoveries', 'workouts']));

    expectEachPageStoredOnce(requests);
    const { held, stored } = await counts(env, member);
    expect(stored).toEqual(held);
    for (const [path, name] of Object.entries(LISTS)) {
      const answered = requests.filter((r) => r.path === path && r.status === 200);
      expect(answered, name).toHaveLength(Math.max(1, Math.ceil(held[name]! / 25)));
    }
  }, 120_000);

  it('rests a collection whose page fails validation, twice as long after a second failure, then fetches the same page again', async () => {
    env = await startEnvironment({ days: YEAR, whoop: FAST_WHOOP, env: FAST });
    const { whoop, member } = env;
    // The second page of sleeps is answered twice with a body that is not a page.
    whoop.malformNext(2, 'wrong-shape', '/v2/activity/sleep', laterPage(SLEEPS));
    expect((await env.connect()).status).toBe(200);
    await historyFetched(env.app.app.db, 90_000);

    const requests = historyRequests(whoop);
    const second = requests.filter((r) => r.path === SLEEPS)[1]!;
    const page = requests.filter((r) => pageKey(r) === pageKey(second));
    expect(page).toHaveLength(3);
    const [first, again, last] = page as [Request, Request, Request];
    const firstRest = again.at - first.answeredAt!;
    const secondRest = last.at - again.answeredAt!;
    expect(firstRest).toBeGreaterThanOrEqual(REST_MS - CLOCKS_MS);
    expect(firstRest).toBeLessThan(2 * REST_MS - CLOCKS_MS);
    expect(secondRest).toBeGreaterThanOrEqual(2 * REST_MS - CLOCKS_MS);
    // The other collections did not wait for sleeps.
    const resting = requests.filter((r) => r.at > first.answeredAt! && r.at < again.at);
    expect(resting.filter((r) => r.path === SLEEPS)).toHaveLength(0);
    expect(resting.length).toBeGreaterThan(0);

    // Each page but the rejected one was requested once, and every record is stored.
    const repeated = requests.filter((r) => pageKey(r) !== pageKey(second));
    expect(new Set(repeated.map(pageKey)).size).toBe(repeated.length);
    const { held, stored } = await counts(env, member);
    expect(stored).toEqual(held);
  }, 120_000);
});
