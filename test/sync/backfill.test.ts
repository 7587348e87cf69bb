// A member's whole history, fetched on connect: every record with each page requested once, announced once,
// bounded by WHOOP_HISTORY_SINCE, served after webhook events and /sync, stopped by forgetting the member.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { forgetMember } from '../../src/members/forget.js';
import { syncStatus } from '../../src/reports/sync-status.js';
import { HISTORY_FLOOR } from '../../src/sync/history.js';
import type { FakeWhoop } from '../fakes/whoop-server.js';
import { startEnvironment, type Environment } from '../support/environment.js';
import { historyFetched, settled } from '../support/settled.js';
import { LISTS, TABLES } from '../support/records.js';
import { until } from '../support/until.js';
import { deliver } from '../webhooks/support.js';

const YEARS_3 = 3 * 365;
/**
 * WHOOP's limit as the fake reports it, and the budget's: high enough not to pace these tests; the whole
 * history fetched on connect (test environments turn it off by default).
 */
const FAST = { WHOOP_RATE_LIMIT_PER_MINUTE: '100000', WHOOP_HISTORY_SINCE: '' };
const FAST_WHOOP = { rateLimit: { perMinute: 100_000 } };
const REPORT_CHANNEL = 'C0REPORTS1';

/** The backfill's list requests (its window starts at the floor or WHOOP_HISTORY_SINCE, never "N days ago"). */
const historyRequests = (whoop: FakeWhoop, start = HISTORY_FLOOR.toISOString()) =>
  whoop.stats.requests.filter((r) => LISTS[r.path] && r.query.start === start);

let env: Environment | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

async function stored(e: Environment, table: string): Promise<number> {
  const [row] = await e.app.app.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE user_id = $1::bigint`, [e.member.user_id]);
  return row!.n;
}

describe('the whole-history backfill', () => {
  it('stores three years of every collection, requesting each page once, and says so once in Slack', async () => {
    env = await startEnvironment({
      days: YEARS_3,
      whoop: FAST_WHOOP,
      env: { ...FAST, SLACK_REPORT_CHANNEL: REPORT_CHANNEL },
    });
    expect((await env.connect()).status).toBe(200);
    await historyFetched(env.app.app.db);

    const requests = historyRequests(env.whoop);
    for (const [path, name] of Object.entries(LISTS)) {
      const held = env.whoop.data[name].filter((record) => record.user_id === env!.member.user_id).length;
      expect(await stored(env, TABLES[name])).toBe(held);
      const pages = requests.filter((r) => r.path === path);
      // The minimum: every page of 25 once (a full last page is followed by none).
      expect(pages).toHaveLength(Math.max(1, Math.ceil(held / 25)));
      expect(new Set(pages.map((r) => r.query.nextToken ?? '')).size).toBe(pages.length);
    }
    // Every recovery found its sleep's start, whichever of the two was fetched first.
    const [missing] = await env.app.app.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM whoop_recoveries WHERE sleep_start IS NULL AND sleep_id IS NOT NULL`);
    expect(missing!.n).toBe(0);

    await env.slack.waitForMessages(1);
    const announcements = env.slack.messages.filter((m) => m.channel === REPORT_CHANNEL && m.text.includes('whole WHOOP history'));
    expect(announcements).toHaveLength(1);
    expect(announcements[0]!.text).toMatch(/back to \d{4}-\d\d-\d\d/);

    const status = (await (await fetch(`${env.app.url}/status`)).json()) as { history: { collectionsIncomplete: number; members: Array<{ complete: boolean; percent: number; userId?: string }> } };
    expect(status.history.collectionsIncomplete).toBe(0);
    expect(status.history.members).toEqual([expect.objectContaining({ complete: true, percent: 100 })]);
    // /status without METRICS_TOKEN names no one.
    expect(status.history.members[0]!.userId).toBeUndefined();
    const metrics = await (await fetch(`${env.app.url}/metrics`)).text();
    expect(metrics).toMatch(/^whoop_history_collections_incomplete 0$/m);
    // The page at `/` counts; MCP's sync_status says how far back it goes.
    expect(await (await fetch(`${env.app.url}/`)).text()).toContain('1 of 1 members&#39; whole WHOOP history stored.');
    const [member] = (await syncStatus(env.app.app.db)).members;
    expect(member!.history).toMatchObject({ complete: true, percent: 100, reached: expect.stringMatching(/^\d{4}-\d\d-\d\d$/) });
  }, 120_000);

  it('starts once for an account connected before the upgrade', async () => {
    // Connected by a version without the backfill (test environments keep it off), then upgraded.
    env = await startEnvironment({ days: 200, whoop: FAST_WHOOP, env: { WHOOP_RATE_LIMIT_PER_MINUTE: '100000' } });
    expect((await env.connect()).status).toBe(200);
    await settled(env.app.app.db);
    expect(await env.app.app.db.query(`SELECT 1 FROM backfill_progress`)).toHaveLength(0);
    await env.app.close();
    const upgraded = await env.startAnotherApp(FAST);
    await historyFetched(upgraded.app.db);
    expect(await upgraded.app.db.query(`SELECT 1 FROM backfill_progress WHERE completed_at IS NOT NULL`)).toHaveLength(4);
    const [row] = await upgraded.app.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM whoop_cycles`);
    expect(row!.n).toBe(env.whoop.data.cycles.filter((c) => c.user_id === env!.member.user_id).length);
  }, 60_000);

  it('goes back no further than WHOOP_HISTORY_SINCE', async () => {
    const since = new Date(Date.now() - 100 * 86_400_000).toISOString().slice(0, 10);
    env = await startEnvironment({ days: 400, whoop: FAST_WHOOP, env: { ...FAST, WHOOP_HISTORY_SINCE: since } });
    expect((await env.connect()).status).toBe(200);
    await historyFetched(env.app.app.db);
    const [oldest] = await env.app.app.db.query<{ start: Date }>(`SELECT min(start) AS start FROM whoop_cycles`);
    expect(oldest!.start.getTime()).toBeGreaterThanOrEqual(new Date(`${since}T00:00:00Z`).getTime());
    expect(await stored(env, 'whoop_cycles')).toBeLessThan(110);
    expect(historyRequests(env.whoop, `${since}T00:00:00.000Z`).length).toBeGreaterThan(0);
    expect(historyRequests(env.whoop)).toHaveLength(0);
  }, 60_000);

  it('serves a webhook event and a /sync before its next page', async () => {
    env = await startEnvironment({ days: YEARS_3, whoop: FAST_WHOOP, env: FAST });
    env.whoop.setLatency(30);
    expect((await env.connect()).status).toBe(200);
    const { whoop, member } = env;
    await until(() => historyRequests(whoop).length >= 4, 'the backfill to be under way');

    // A webhook event: its record is fetched with at most one history page in between.
    const sleep = whoop.data.sleeps.find((s) => s.user_id === member.user_id)!;
    const before = historyRequests(whoop).length;
    const delivered = await deliver(whoop, env.app.url, { user_id: member.user_id, id: sleep.id, type: 'sleep.updated' });
    expect(delivered.delivered).toBe(true);
    await until(() => whoop.stats.requests.some((r) => r.path === `/developer/v2/activity/sleep/${sleep.id}` && r.status === 200), 'the event to be served');
    const eventAt = whoop.stats.requests.findIndex((r) => r.path === `/developer/v2/activity/sleep/${sleep.id}`);
    const pagesBefore = (index: number) =>
      whoop.stats.requests.slice(0, index).filter((r) => historyRequests(whoop).includes(r)).length;
    expect(pagesBefore(eventAt) - before).toBeLessThanOrEqual(1);

    // A /sync 3: every request of its execution comes with at most one history page in between.
    const beforeSync = historyRequests(whoop).length;
    expect((await env.command('3')).status).toBe(200);
    await settled(env.app.app.db);
    const syncStart = (r: { query: Record<string, string> }) =>
      Boolean(r.query.start) && r.query.start !== HISTORY_FLOOR.toISOString();
    const lastSync = whoop.stats.requests.findLastIndex((r) => LISTS[r.path] && syncStart(r));
    expect(pagesBefore(lastSync + 1) - beforeSync).toBeLessThanOrEqual(1);
    expect(await env.app.app.db.query(`SELECT 1 FROM backfill_progress WHERE completed_at IS NULL`)).not.toHaveLength(0);
    // Meanwhile /status says how far it is and what is left.
    const status = (await (await fetch(`${env.app.url}/status`)).json()) as { history: { members: Array<{ text: string }> } };
    expect(status.history.members[0]!.text).toMatch(/^history: \d+ % fetched, back to \d{4}-\d\d-\d\d so far, about \d+ min left at WHOOP's limit$/);
  }, 120_000);

  it("leaves a tenth of the minute's budget to other work: a /sync typed during the backfill goes out at once", async () => {
    // WHOOP's headers say 16 a minute are left (another process of the app spends the rest, say); the budget
    // follows what WHOOP says, and the backfill leaves a tenth of the configured 100 (10) to everything else.
    env = await startEnvironment({ days: YEARS_3, whoop: { rateLimit: { perMinute: 16 } }, env: { WHOOP_HISTORY_SINCE: '' } });
    expect((await env.connect()).status).toBe(200);
    const minuteLeft = async () => ((await (await fetch(`${env!.app.url}/status`)).json()) as { whoopBudget: { minute: number } }).whoopBudget.minute;
    // It stops with 10 of WHOOP's 16 left: connecting took 2, the backfill 4 pages.
    await until(async () => (await minuteLeft()) <= 10, "the backfill to reach the minute's reserve");
    const pages = historyRequests(env.whoop).length;
    expect(pages).toBe(16 - 10 - 2);
    // And stays there: no page in six of its page intervals (a person types /sync a little later).
    await sleep(4_000);
    expect(historyRequests(env.whoop)).toHaveLength(pages);
    // The reserve serves a /sync 1 (4 collections, profile, body) within WHOOP's minute, without a 429.
    expect((await env.command('1')).status).toBe(200);
    await settled(env.app.app.db);
    const [run] = await env.app.app.db.query<{ status: string }>(`SELECT status FROM sync_runs ORDER BY id DESC LIMIT 1`);
    expect(run!.status).toBe('succeeded');
    const served = env.whoop.stats.requests.filter((r) => r.path.startsWith('/developer/') && r.status === 200);
    expect(served).toHaveLength(2 + pages + 6);
    expect(served.at(-1)!.at - served[0]!.at).toBeLessThan(60_000);
    expect(env.whoop.stats.rateLimited).toBe(0);
    expect(historyRequests(env.whoop)).toHaveLength(pages);
  }, 60_000);

  it('leaves a tenth of the daily budget to other work, and says when the daily limit spreads it over days', async () => {
    env = await startEnvironment({ days: YEARS_3, whoop: FAST_WHOOP, env: { ...FAST, WHOOP_RATE_LIMIT_PER_DAY: '80' } });
    expect((await env.connect()).status).toBe(200);
    const status = async () =>
      (await (await fetch(`${env!.app.url}/status`)).json()) as {
        whoopBudget: { day: number };
        history: { daysLeft: number; text: string; collectionsIncomplete: number };
      };
    // It stops with 8 of the day's 80 left (connecting took 2).
    await until(async () => (await status()).whoopBudget.day <= 8, 'the backfill to reach the daily reserve');
    const pages = historyRequests(env.whoop).length;
    expect(pages).toBe(80 - 8 - 2);
    // The reserve serves a /sync (4 collections, profile, body) in full.
    expect((await env.command('1')).status).toBe(200);
    await settled(env.app.app.db);
    const [run] = await env.app.app.db.query<{ status: string }>(`SELECT status FROM sync_runs ORDER BY id DESC LIMIT 1`);
    expect(run!.status).toBe('succeeded');
    expect(historyRequests(env.whoop)).toHaveLength(pages);
    const { history } = await status();
    expect(history.collectionsIncomplete).toBeGreaterThan(0);
    expect(history.daysLeft).toBeGreaterThan(1);
    expect(history.text).toMatch(/^about \d+ days left at WHOOP's daily limit: it spreads the \d+ requests still needed over days$/);
  }, 60_000);

  it('stops when the member is forgotten', async () => {
    env = await startEnvironment({ days: YEARS_3, whoop: FAST_WHOOP, env: FAST });
    env.whoop.setLatency(30);
    expect((await env.connect()).status).toBe(200);
    await until(() => historyRequests(env!.whoop).length >= 4, 'the backfill to be under way');
    const { db } = env.app.app;
    expect(await forgetMember({ db, api: env.app.app.whoop.api }, BigInt(env.member.user_id))).toBeDefined();
    expect(await db.query(`SELECT 1 FROM backfill_progress`)).toHaveLength(0);
    const after = historyRequests(env.whoop).length;
    // The worker went round its tasks again (the /sync ran and failed: no account left) without a page.
    expect((await env.command('1')).status).toBe(200);
    await settled(db);
    expect(historyRequests(env.whoop)).toHaveLength(after);
  }, 60_000);
});
