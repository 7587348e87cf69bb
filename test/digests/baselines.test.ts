// Baselines that tell the truth: members whose WHOOP history is 3, 4, 10 and 60 days long, connected to a fresh
// install. The digest's pre-sync fetches the baseline window; each mean is named after the days it covers (none
// below 3 days), the weekly report compares with "the 7 before" only when those days exist, and the dashboard's
// mean line says how many days it covers. Expected texts are computed from the fake WHOOP's records.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Member, Recovery } from '../fakes/whoop-server.js';
import { launchBrowser, type Browser } from '../support/browser.js';
import { startEnvironment, type Environment } from '../support/environment.js';
import { expectedDays, type ExpectedDay } from '../support/expected-days.js';

const CHANNEL = 'C0DIGEST01';
const PASSWORD = 'correct horse battery staple';
const DAY_MS = 86_400_000;
const shift = (day: string, days: number) => new Date(Date.parse(`${day}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;

let env: Environment;
let browser: Browser;
const today = new Date().toISOString().slice(0, 10);
const members: Record<'three' | 'four' | 'ten', Member> = {} as never;

/** A member's section of a digest or report: from their name to the next member's. */
function section(text: string, name: string): string {
  const start = text.indexOf(`*${name}*`);
  expect(start, name).toBeGreaterThanOrEqual(0);
  const next = text.indexOf('\n\n*', start);
  return next === -1 ? text.slice(start) : text.slice(start, next);
}

function days(member: Member): ExpectedDay[] {
  return expectedDays(env.whoop.data, member.user_id).filter((day) => day.day <= today);
}

beforeAll(async () => {
  env = await startEnvironment({
    days: 60,
    env: { SLACK_DIGEST_CHANNEL: CHANNEL, DIGEST_DAILY: '0 7 * * *', DIGEST_WEEKLY: '0 9 * * 0', DASHBOARD_PASSWORD: PASSWORD },
  });
  // Histories that end yesterday, so every day is on or before today in any member's time zone.
  const yesterday = new Date(Date.now() - DAY_MS);
  // Ids whose generated time zones are +02:00, +10:00 and -05:00, so the members span time zones.
  for (const [key, count, name, id] of [['three', 3, 'Three', 20000], ['four', 4, 'Four', 20001], ['ten', 10, 'Ten', 20004]] as const) {
    members[key] = env.whoop.addMember({ user_id: id, first_name: name, last_name: 'Days' });
    env.whoop.generate(members[key].user_id, { days: count, now: yesterday });
  }
  // Every recovery scored, so each day carries an HRV and the counts below are the days themselves.
  type Scored = Recovery & { score: NonNullable<Recovery['score']> };
  const template = env.whoop.data.recoveries.find((r): r is Scored => r.score !== undefined)!.score;
  for (const recovery of env.whoop.data.recoveries) {
    if (recovery.score_state === 'SCORED') continue;
    recovery.score_state = 'SCORED';
    const varied = { hrv_rmssd_milli: 50 + (recovery.cycle_id % 17), resting_heart_rate: 50 + (recovery.cycle_id % 9) };
    recovery.score = { ...template, ...varied };
  }
  expect((await env.connect()).status).toBe(200);
  for (const member of Object.values(members)) {
    expect((await env.connect(member)).status).toBe(200);
    // Later members keep their values out of the channel until they share them (docs/privacy.md).
    expect((await env.command('share on', { command: '/whoop', user_id: `U0M${member.user_id}` })).status).toBe(200);
  }
  browser = await launchBrowser({ viewport: { width: 1200, height: 900 } });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await env?.close();
});

describe('baselines', () => {
  it('the digest fetches the baseline window first, names each mean after its days and shows none below 3', async () => {
    expect(await env.app.app.digests.runSlot('daily', new Date('2026-02-01T07:00:00Z'))).toBe('posted');
    // Nothing was stored: the pre-sync reached back over the baselines (30 days before each of the 3 flag days).
    const refresh = await env.app.app.db.prisma.syncRun.findFirstOrThrow({ where: { requestedBy: 'digest daily' } });
    expect(refresh).toMatchObject({ days: 34, status: 'succeeded' });
    const [message] = await env.slack.waitForMessages(1, 60_000);
    const text = message!.text;

    const long = days(env.member);
    const latest = long.at(-1)!;
    const before = long.filter((day) => day.day < latest.day && day.day >= shift(latest.day, -30));
    expect(before).toHaveLength(30);
    const hrvMean = mean(before.map((day) => day.hrv!));
    expect(section(text, 'Jo Tester')).toContain(`HRV ${Math.round(latest.hrv!)} ms (`);
    expect(section(text, 'Jo Tester')).toContain(`vs 30-day mean ${Math.round(hrvMean)})`);

    const four = days(members.four);
    expect(four).toHaveLength(4);
    const fourMean = mean(four.slice(0, 3).map((day) => day.hrv!));
    const fourText = section(text, 'Four Days');
    expect(fourText).toContain(`HRV ${Math.round(four[3]!.hrv!)} ms (`);
    expect(fourText).toContain(`vs 3-day mean ${Math.round(fourMean)})`);
    expect(fourText).not.toContain('30-day');

    const threeText = section(text, 'Three Days');
    expect(threeText).toContain(`HRV ${Math.round(days(members.three)[2]!.hrv!)} ms (no mean yet: 3 earlier days needed)`);
    expect(threeText).not.toMatch(/vs|-day mean/);
  }, 60_000);

  it('the weekly report says "vs the 7 before" only with those 7 days, else what it compares with, or why not', async () => {
    env.slack.reset();
    expect(await env.app.app.digests.runSlot('weekly', new Date('2026-02-01T09:00:00Z'))).toBe('posted');
    const [upload] = await env.slack.waitForUploads(1, 60_000);
    const text = upload!.initialComment!;
    const header = (member: Member) => {
      const held = days(member).map((day) => day.day);
      const week = held.filter((day) => day > shift(today, -7)).length;
      const prior = held.filter((day) => day <= shift(today, -7) && day > shift(today, -14)).length;
      const means = week === 7 ? 'means of the last 7 days' : `means of ${week} of the last 7 days`;
      if (prior === 7) return `${means} (vs the 7 before)`;
      if (prior >= 3) return `${means} (vs ${prior} of the 7 days before)`;
      return `${means} (no comparison: ${prior === 0 ? 'no data in the 7 days before' : `only ${prior} day${prior === 1 ? '' : 's'} of data in the 7 before`})`;
    };
    expect(section(text, 'Jo Tester')).toContain(header(env.member));
    expect(section(text, 'Jo Tester')).toContain('(vs the 7 before)');
    expect(section(text, 'Jo Tester')).toMatch(/recovery \d+ % \([+−±]\d+ % vs \d+ %\)/);
    // Ten days ending a day or two ago: some of the 7 days before the week.
    expect(section(text, 'Ten Days')).toContain(header(members.ten));
    expect(section(text, 'Ten Days')).toMatch(/\(vs \d of the 7 days before\)\nrecovery \d+ % \([+−±]\d+ % vs \d+ %\)/);
    expect(section(text, 'Four Days')).toContain(header(members.four));
    expect(section(text, 'Four Days')).toContain('(no comparison: no data in the 7 days before)');
    expect(section(text, 'Four Days')).not.toMatch(/% vs/);
  }, 60_000);

  it('the dashboard names each mean line after the days it covers', async () => {
    // The digest fetched 34 days: the first days of the range had fewer than 30 days before them.
    await env.app.app.sync.syncAll({ days: 65, trigger: 'cli', requestedBy: 'test' });
    const page = await browser.context.newPage();
    await page.goto(`${env.app.url}/login`);
    await page.fill('#password', PASSWORD);
    await Promise.all([page.waitForURL(`${env.app.url}/dashboard`), page.click('button[type=submit]')]);
    await page.waitForSelector('body[data-ready="true"][data-range="30"]', { timeout: 60_000 });
    const chart = (member: Member) => page.locator(`.member[data-user-id="${member.user_id}"] [data-chart="hrv"]`);
    // The dashboard's mean covers the 30 days ending on each day, that day included, also for the range's first day.
    const held = days(env.member).map((day) => day.day);
    const counts = held
      .filter((day) => day > shift(today, -30))
      .map((day) => held.filter((other) => other <= day && other > shift(day, -30)).length);
    const label = Math.min(...counts) === 30 ? '30-day mean' : `mean of ${Math.min(...counts)}–30 days`;
    expect(Math.min(...counts)).toBeGreaterThan(25);
    expect(await chart(env.member).locator('svg').innerHTML()).toContain(label);
    expect(await chart(env.member).getAttribute('aria-label')).toContain(`with its ${label} (dashed)`);
    expect(await chart(members.ten).locator('svg').innerHTML()).toContain('mean of 3–10 days');
    expect(await chart(members.four).locator('svg').innerHTML()).toContain('mean of 3–4 days');
    expect(await chart(members.three).locator('svg').innerHTML()).toContain('3-day mean');
    for (const member of Object.values(members)) expect(await chart(member).locator('svg').innerHTML()).not.toContain('30-day');
    expect(await page.locator(`.member[data-user-id="${members.three.user_id}"] svg g.role-mark.hrv_mean_marks path`).count()).toBe(1);
    await page.close();
  }, 90_000);

  it('once the short histories are whole, a digest no longer syncs the baseline window for them', async () => {
    const { app } = env.app;
    const refreshes = () => app.db.prisma.syncRun.count({ where: { requestedBy: { startsWith: 'digest' } } });
    const before = await refreshes();
    await app.history.startMissing(undefined);
    app.worker.wake();
    const whole = async () => (await app.history.summary()).members.filter((member) => member.complete).length;
    await expect.poll(whole, { timeout: 60_000 }).toBe(4);
    // The last sync is recent, and the days stored are all the members have: nothing to fetch before the digest.
    expect(await app.digests.runSlot('daily', new Date('2026-02-02T07:00:00Z'))).toBe('posted');
    expect(await refreshes()).toBe(before);
  }, 90_000);
});
