// The dashboard in Debian's Chromium: signing in, every chart drawn with one mark per day of the fake
// WHOOP's data, the range switch, sign-out, and a visitor without a session seeing nothing.
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout } from 'node:timers/promises';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, PHONE, signInWithPassword, watchPage, type Browser } from '../support/browser.js';
import { expectedMarks, type ExpectedMarks } from '../support/dashboard-data.js';
import { expectedDays } from '../support/expected-days.js';
import { startEnvironment, type Environment } from '../support/environment.js';

const PASSWORD = 'correct horse battery staple';
const MARKS = ['recovery_bars', 'hrv_points', 'resting_hr_points', 'sleep_stages', 'sleep_performance', 'strain_bars', 'workouts'] as const;

let env: Environment;
let browser: Browser;
let shots: string;

const signIn = (page: Page) => signInWithPassword(page, env.app.url, PASSWORD);

async function waitForCharts(page: Page, range: number): Promise<void> {
  await page.waitForSelector(`body[data-ready="true"][data-range="${range}"]`, { timeout: 60_000 });
}

/** How many items each named mark drew, read from the SVG the browser rendered (one path per item). */
async function drawnMarks(page: Page): Promise<ExpectedMarks> {
  const counts = await Promise.all(MARKS.map((name) => page.locator(`.member svg g.role-mark.${name}_marks > path`).count()));
  return Object.fromEntries(MARKS.map((name, index) => [name, counts[index]])) as unknown as ExpectedMarks;
}

beforeAll(async () => {
  shots = await mkdtemp(join(tmpdir(), 'whoop-sync-shots-'));
  browser = await launchBrowser({ viewport: { width: 1280, height: 900 } });
  env = await startEnvironment({ days: 120, env: { DASHBOARD_PASSWORD: PASSWORD, SYNC_SCHEDULES: '0 8 * * * = 3; 0 13 * * * = 3; 0 9 * * 0 = 30' } });
  expect((await env.connect()).status).toBe(200);
  await env.app.app.sync.syncAll({ days: 130, trigger: 'cli', requestedBy: 'test' });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await env?.close();
  await rm(shots, { recursive: true, force: true });
});

describe('dashboard in Chromium', () => {
  it('sends a visitor without a session to the sign-in form, showing no data', async () => {
    const page = await browser.context.newPage();
    const problems = watchPage(page, env.app.url);
    const response = await page.goto(`${env.app.url}/dashboard`);
    expect(page.url()).toBe(`${env.app.url}/login`);
    expect(response?.status()).toBe(200);
    const html = await page.content();
    expect(html).not.toContain('Jo Tester');
    expect(html).not.toContain('<svg');
    expect(await page.locator('#password').count()).toBe(1);
    const api = await page.request.get(`${env.app.url}/dashboard/api/overview`);
    expect(api.status()).toBe(401);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('draws every chart with one mark per day, switches ranges, and signs out', async () => {
    const page = await browser.context.newPage();
    const problems = watchPage(page, env.app.url);
    await signIn(page);
    await waitForCharts(page, 30);
    const userId = env.member.user_id;
    expect(await page.locator('.member h2').innerText()).toBe('Jo Tester');
    const expected30 = expectedMarks(env.whoop, userId, 30);
    expect(expected30.recovery_bars).toBeGreaterThan(20);
    expect(await drawnMarks(page)).toEqual(expected30);
    // Zone names are written out, not only coloured.
    await expect.poll(() => page.locator('.zones').innerText()).toMatch(/Green 67–100%: \d+ day/);
    expect(await page.locator('[data-chart="recovery"] svg').innerHTML()).toContain('Yellow 34–66%');

    for (const range of [90, 365, 30]) {
      await page.click(`button[data-range="${range}"]`);
      await waitForCharts(page, range);
      expect(await drawnMarks(page), `range ${range}`).toEqual(expectedMarks(env.whoop, userId, range));
    }
    const counts90 = expectedMarks(env.whoop, userId, 90);
    const counts365 = expectedMarks(env.whoop, userId, 365);
    expect(counts90.recovery_bars).toBeGreaterThan(expected30.recovery_bars);
    expect(counts365.recovery_bars).toBeGreaterThan(counts90.recovery_bars);

    // The accounts, the run the test started, and the next schedules are listed.
    expect(await page.locator('#accounts').innerText()).toContain('Active');
    expect(await page.locator('#runs').innerText()).toMatch(/cli[\s\S]*succeeded/);
    expect(await page.locator('#schedules tbody tr').count()).toBe(3);

    // The member's whole history downloads from the page, behind the same sign-in.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('.member a[data-export="daily.csv"]')]);
    const csv = (await readFile((await download.path())!, 'utf8')).trimEnd().split('\r\n');
    expect(csv[0]).toMatch(/^user_id,day,cycle_id,/);
    expect(csv).toHaveLength(1 + expectedDays(env.whoop.data, env.member.user_id).length);

    await page.click('button[data-range="90"]');
    await waitForCharts(page, 90);
    const shot = join(shots, 'dashboard.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect((await readFile(shot)).subarray(1, 4).toString()).toBe('PNG');
    // UPDATE_SCREENSHOT=1 refreshes the README's picture from this run.
    if (process.env.UPDATE_SCREENSHOT) await copyFile(shot, join(import.meta.dirname, '../../docs/dashboard.png'));

    await Promise.all([page.waitForURL(`${env.app.url}/login`), page.click('#sign-out')]);
    await page.goto(`${env.app.url}/dashboard`);
    expect(page.url()).toBe(`${env.app.url}/login`);
    expect(await page.content()).not.toContain('Jo Tester');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('draws every chart over the same days, centres points on their bars, explains each mark, and fits 1280 px', async () => {
    const page = await browser.context.newPage();
    const problems = watchPage(page, env.app.url);
    // A range clicked while the previous one is still drawing (its data held back a moment): each chart is
    // drawn once.
    const slowCharts = '**/charts?range=30';
    await page.route(slowCharts, async (route) => {
      await setTimeout(1500);
      await route.continue();
    });
    await signIn(page);
    await page.click('button[data-range="365"]');
    await waitForCharts(page, 365);
    await setTimeout(2000);
    expect(await page.locator('[data-chart]').count()).toBe(5);
    await page.unroute(slowCharts);
    for (const range of [30, 90, 365]) {
      await page.click(`button[data-range="${range}"]`);
      await waitForCharts(page, range);
      // The range asked for, today (UTC, the tests' SYNC_TIMEZONE) included: every chart, whatever its data.
      const today = Date.parse(`${new Date().toISOString().slice(0, 10)}T00:00:00Z`);
      const domains = await page.locator('[data-chart]').evaluateAll((charts) => charts.map((chart) => chart.getAttribute('data-x-domain')));
      expect(domains, `range ${range}`).toEqual(Array(5).fill(`${today - (range - 1) * 86_400_000},${today + 86_400_000}`));
    }
    await page.click('button[data-range="30"]');
    await waitForCharts(page, 30);

    // Points and triangles sit over the middle of their day's band, where the bars are, not half a day to the
    // left: measured in days from a bar's centre, every point is a whole number of days away.
    const centres = (selector: string) =>
      page.locator(selector).evaluateAll((paths) =>
        paths.map((path) => {
          type Measurable = { getBoundingClientRect(): { x: number; width: number } };
          const box = (path as unknown as Measurable).getBoundingClientRect();
          return box.x + box.width / 2;
        }),
      );
    for (const [chart, bars, points] of [['strain', 'strain_bars', 'workouts'], ['sleep', 'sleep_stages', 'sleep_performance']] as const) {
      const barCentres = await centres(`[data-chart="${chart}"] g.${bars}_marks > path`);
      const pointCentres = await centres(`[data-chart="${chart}"] g.${points}_marks > path`);
      expect(pointCentres.length, chart).toBeGreaterThan(5);
      const sorted = [...new Set(barCentres.map((x) => Math.round(x * 10) / 10))].sort((a, b) => a - b);
      const dayWidth = Math.min(...sorted.slice(1).map((x, i) => x - sorted[i]!));
      expect(dayWidth, chart).toBeGreaterThan(10);
      for (const x of pointCentres) {
        const days = (x - sorted[0]!) / dayWidth;
        expect(Math.abs(days - Math.round(days)), `${chart} at x=${x}`).toBeLessThan(0.05);
      }
    }

    // Every kind of mark is named in a legend, the dashed means included.
    const legendText = async (chart: string) =>
      (await page.locator(`[data-chart="${chart}"] g.role-legend text`).allTextContents()).join(' | ');
    expect(await legendText('hrv')).toBe('HRV ms | 30-day mean');
    expect(await legendText('restingHeartRate')).toBe('Resting HR bpm | 30-day mean');
    expect(await legendText('strain')).toBe('Day strain | Workout minutes');
    expect(await legendText('sleep')).toContain('Sleep performance %');

    // One date format on the page: the axes, the note and the tables.
    const axisDays = await page.locator('[data-chart] g.role-axis-label text').allTextContents();
    expect(axisDays.length).toBeGreaterThan(10);
    for (const label of axisDays.filter((text) => !/^\d+(\.\d+)?$/.test(text))) expect(label).toMatch(/^\d{4}-\d\d-\d\d$/);
    expect(await page.locator('.member .note').first().innerText()).toMatch(/since \d{4}-\d\d-\d\d\.$/);
    for (const cell of await page.locator('#runs td:last-child, #schedules td:last-child').allInnerTexts()) {
      expect(cell).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d$/);
    }

    // At 1280 px wide nothing scrolls sideways, the sync runs table included.
    const fits = (await page.evaluate(
      "({ page: document.documentElement.scrollWidth <= window.innerWidth, runs: document.querySelector('#runs table').scrollWidth <= document.querySelector('#runs').clientWidth })",
    )) as { page: boolean; runs: boolean };
    expect(fits).toEqual({ page: true, runs: true });
    await Promise.all([page.waitForURL(`${env.app.url}/login`), page.click('#sign-out')]);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('fits a phone screen', async () => {
    const phone = await launchBrowser({ viewport: PHONE });
    try {
      const page = await phone.context.newPage();
      const problems = watchPage(page, env.app.url);
      await signIn(page);
      await waitForCharts(page, 30);
      const scrollWidth = await page.evaluate('document.documentElement.scrollWidth');
      const innerWidth = await page.evaluate('window.innerWidth');
      const chartWidth = (await page.locator('[data-chart="recovery"] svg').boundingBox())!.width;
      expect(scrollWidth).toBeLessThanOrEqual(innerWidth as number);
      expect(chartWidth).toBeGreaterThan(250);
      expect(await drawnMarks(page)).toEqual(expectedMarks(env.whoop, env.member.user_id, 30));
      expect(problems).toEqual([]);
    } finally {
      await phone.close();
    }
  });

  // Last: it leaves the account needing re-authorization.
  it('offers Reconnect for an account whose WHOOP grant was revoked, and shows the failed run', async () => {
    env.whoop.revokeGrants();
    env.whoop.expireAccessTokens();
    const outcome = await env.app.app.sync.syncAll({ days: 3, trigger: 'cli', requestedBy: 'test' });
    expect(outcome.status).toBe('failed');
    const page = await browser.context.newPage();
    const problems = watchPage(page, env.app.url);
    await signIn(page);
    await waitForCharts(page, 30);
    const accounts = page.locator('#accounts');
    expect(await accounts.innerText()).toContain('Re-authorization required');
    // Reconnect submits the operator's connect form, which starts WHOOP's authorization in this browser (its
    // POST and the page's form-action are checked over HTTP in test/members/dashboard.test.ts).
    expect(await accounts.getByRole('button', { name: 'Reconnect' }).getAttribute('form')).toBe('connect-form');
    expect(await page.locator('#connect-form').getAttribute('action')).toBe('/dashboard/connect');
    expect(await page.locator('#runs tbody tr').first().innerText()).toMatch(/failed: WHOOP authorization/);
    // The data already stored is still shown.
    expect(await drawnMarks(page)).toEqual(expectedMarks(env.whoop, env.member.user_id, 30));
    expect(problems).toEqual([]);
    await page.close();
  });
});
