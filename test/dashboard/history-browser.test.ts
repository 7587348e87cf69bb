// The dashboard's history line in Debian's Chromium: while two members' whole-history backfills run (the fake
// WHOOP held half-way), each member's line gives the share fetched and the time left; once complete, the day the
// history goes back to, the fake's oldest record in the window; a member signed in with their own link sees only
// their own line.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Member } from '../fakes/whoop-server.js';
import { launchBrowser, signInWithPassword, watchPage, type Browser } from '../support/browser.js';
import { startEnvironment, type Environment } from '../support/environment.js';
import { LISTS } from '../support/records.js';
import { historyFetched } from '../support/settled.js';
import { until } from '../support/until.js';

const PASSWORD = 'correct horse battery staple';
const BOB = 'U0BOB00001';
const DAY_MS = 86_400_000;
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
/** WHOOP_HISTORY_SINCE: Jo's 400 days of data reach past it, Bo's 150 lie within it. */
const SINCE = day(Date.now() - 300 * DAY_MS);
const SINCE_MS = Date.parse(`${SINCE}T00:00:00Z`);
/**
 * WHOOP's limit, as the fake reports it and the service is configured: one page every 111 ms (a minute ÷ the
 * backfill's 540 of it), so the two histories (about 70 pages) take seconds, and the test holds the fake WHOOP
 * after a few of them.
 */
const PER_MINUTE = '600';

let env: Environment;
let browser: Browser;
let bob: Member;
/** The operator's page, signed in once for the whole file (POST /login takes 10 a minute). */
let page: Page;
let problems: string[];

/** The backfill's list requests so far: its window starts at WHOOP_HISTORY_SINCE. */
const historyPages = () =>
  env.whoop.stats.requests.filter((r) => LISTS[r.path] && r.query.start === new Date(SINCE_MS).toISOString()).length;

/**
 * The oldest day in the fake's records of a member from WHOOP_HISTORY_SINCE on, from their starts (a recovery is
 * listed by its sleep's start and made after that sleep, so it is never the oldest).
 */
function oldestDay(userId: number): string {
  const { cycles, sleeps, workouts } = env.whoop.data;
  const starts = [...cycles, ...sleeps, ...workouts]
    .filter((record) => record.user_id === userId)
    .map((record) => Date.parse(record.start))
    .filter((start) => start >= SINCE_MS);
  return day(Math.min(...starts));
}

interface HistoryLine {
  userId: string | null;
  state: string | null;
  text: string;
}

/** Every history line the page shows, with the member section it is in. */
async function historyLines(on: Page): Promise<HistoryLine[]> {
  await on.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
  const lines = on.locator('.note.history');
  const found: HistoryLine[] = [];
  for (let i = 0; i < (await lines.count()); i++) {
    const line = lines.nth(i);
    found.push({
      userId: await line.locator('xpath=ancestor::section[contains(@class, "member")]').getAttribute('data-user-id'),
      state: await line.getAttribute('data-history'),
      text: await line.innerText(),
    });
  }
  return found;
}

beforeAll(async () => {
  browser = await launchBrowser({ viewport: { width: 1280, height: 900 } });
  env = await startEnvironment({
    days: 400,
    whoop: { rateLimit: { perMinute: Number(PER_MINUTE) } },
    env: { DASHBOARD_PASSWORD: PASSWORD, WHOOP_HISTORY_SINCE: SINCE, WHOOP_RATE_LIMIT_PER_MINUTE: PER_MINUTE },
  });
  bob = env.whoop.addMember({ first_name: 'Bo', last_name: 'Private' });
  env.whoop.generate(bob.user_id, { days: 150 });
  page = await browser.context.newPage();
  problems = watchPage(page, env.app.url);
  // Signed in before anyone connects: the backfills start with the connections.
  await signInWithPassword(page, env.app.url, PASSWORD);
  expect((await env.connect()).status).toBe(200);
  expect((await env.connect(bob, BOB)).status).toBe(200);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await env?.close();
});

describe("the dashboard's history line in Chromium", () => {
  it('shows how much of each history is fetched and the time left while it runs', async () => {
    // Two pages of each member's every collection, then WHOOP answers nothing until released.
    await until(() => historyPages() >= 16, 'the backfills to be under way');
    const release = env.whoop.hold();
    try {
      // Both members' four collections are still being fetched.
      const incomplete = await env.app.app.db.query(`SELECT 1 FROM backfill_progress WHERE completed_at IS NULL`);
      expect(incomplete).toHaveLength(8);
      await page.goto(`${env.app.url}/dashboard`);
      const lines = await historyLines(page);
      expect(lines.map((line) => line.userId).sort()).toEqual([String(env.member.user_id), String(bob.user_id)].sort());
      const today = day(Date.now());
      for (const line of lines) {
        expect(line.state, line.text).toBe('running');
        const parts = /^WHOOP history: (\d+) % fetched, back to (\d{4}-\d\d-\d\d) so far, about (\d+) min left at WHOOP's limit\.$/.exec(line.text);
        expect(parts, line.text).not.toBeNull();
        const [, percent, reached, minutes] = parts!;
        // How far back every collection has reached: within the window, not yet at its start.
        expect(reached! > SINCE && reached! <= today, line.text).toBe(true);
        expect(Number(percent), line.text).toBeGreaterThan(0);
        expect(Number(percent), line.text).toBeLessThan(100);
        expect(Number(minutes), line.text).toBeGreaterThanOrEqual(1);
      }
    } finally {
      release();
    }
    expect(problems).toEqual([]);
  }, 120_000);

  it("names the day each history goes back to once complete: the fake's oldest record in the window", async () => {
    await historyFetched(env.app.app.db);
    const jo = oldestDay(env.member.user_id);
    const bo = oldestDay(bob.user_id);
    // Jo's history is cut at WHOOP_HISTORY_SINCE, Bo's starts later, with Bo's first record.
    expect(jo >= SINCE && jo <= day(SINCE_MS + DAY_MS)).toBe(true);
    expect(bo > jo).toBe(true);
    await page.goto(`${env.app.url}/dashboard`);
    expect(await historyLines(page)).toEqual(expect.arrayContaining([
      { userId: String(env.member.user_id), state: 'complete', text: `WHOOP history since ${jo}: complete.` },
      { userId: String(bob.user_id), state: 'complete', text: `WHOOP history since ${bo}: complete.` },
    ]));
    expect(await page.locator('.note.history').count()).toBe(2);
    expect(problems).toEqual([]);
  }, 120_000);

  it("shows a member signed in with their own link only their own history line", async () => {
    const answer = (await (await env.command('dashboard', { command: '/whoop', user_id: BOB })).json()) as { text: string };
    const link = /<(http[^|>]+)\|/.exec(answer.text)![1]!.replace(env.config.publicUrl, env.app.url);
    // A profile of its own: the operator's session stays in the other.
    const member = await launchBrowser({ viewport: { width: 1280, height: 900 } });
    try {
      const own = await member.context.newPage();
      const ownProblems = watchPage(own, env.app.url);
      await own.goto(link);
      await Promise.all([own.waitForURL(`${env.app.url}/dashboard`), own.click('#open-dashboard')]);
      expect(await historyLines(own)).toEqual([
        { userId: String(bob.user_id), state: 'complete', text: `WHOOP history since ${oldestDay(bob.user_id)}: complete.` },
      ]);
      const text = await own.locator('body').innerText();
      expect(text).not.toContain(oldestDay(env.member.user_id));
      expect(text).not.toContain('Jo Tester');
      // Nor does what the page loaded carry Jo's history.
      const overview = (await (await own.request.get(`${env.app.url}/dashboard/api/overview`)).json()) as { history: { members: Array<{ userId: string }> } };
      expect(overview.history.members.map((m) => m.userId)).toEqual([String(bob.user_id)]);
      expect(ownProblems).toEqual([]);
    } finally {
      await member.close();
    }
  }, 120_000);
});
