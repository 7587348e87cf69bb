// The dashboard in Debian's Chromium: signing in, every chart drawn with one mark per day of the fake
// WHOOP's data, the range switch, sign-out, and a visitor without a session seeing nothing.
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, PHONE, type Browser } from '../support/browser.js';
import { expectedMarks, type ExpectedMarks } from '../support/dashboard-data.js';
import { startEnvironment, type Environment } from '../support/environment.js';

const PASSWORD = 'correct horse battery staple';
const MARKS = ['recovery_bars', 'hrv_points', 'resting_hr_points', 'sleep_stages', 'sleep_performance', 'strain_bars', 'workouts'] as const;

let env: Environment;
let browser: Browser;
let shots: string;

/** Everything a page logged as an error, failed to load, or requested from anywhere but the service. */
function watch(page: Page, origin: string): string[] {
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') problems.push(`console ${message.type()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('requestfailed', (request) => problems.push(`request failed: ${request.url()}`));
  page.on('request', (request) => {
    if (new URL(request.url()).origin !== origin) problems.push(`external request: ${request.url()}`);
  });
  return problems;
}

async function signIn(page: Page): Promise<void> {
  await page.goto(`${env.app.url}/login`);
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForURL(`${env.app.url}/dashboard`), page.click('button[type=submit]')]);
}

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
  browser = await launchBrowser({ viewport: { width: 1200, height: 900 } });
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
    const problems = watch(page, env.app.url);
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
    const problems = watch(page, env.app.url);
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

  it('fits a phone screen', async () => {
    const phone = await launchBrowser({ viewport: PHONE });
    try {
      const page = await phone.context.newPage();
      const problems = watch(page, env.app.url);
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
    const problems = watch(page, env.app.url);
    await signIn(page);
    await waitForCharts(page, 30);
    const accounts = page.locator('#accounts');
    expect(await accounts.innerText()).toContain('Re-authorization required');
    expect(await accounts.getByRole('link', { name: 'Reconnect' }).getAttribute('href')).toBe('/oauth/whoop');
    expect(await page.locator('#runs tbody tr').first().innerText()).toMatch(/failed: WHOOP authorization/);
    // The data already stored is still shown.
    expect(await drawnMarks(page)).toEqual(expectedMarks(env.whoop, env.member.user_id, 30));
    expect(problems).toEqual([]);
    await page.close();
  });
});
