// The morning digest and the weekly report end to end: the real app on a real database, synced from the fake
// WHOOP, posting to the fake Slack. Expected numbers are computed here from the fake's records.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Recovery } from '../fakes/whoop-server.js';
import { startEnvironment, type Environment } from '../support/environment.js';
import { expectedDays, type ExpectedDay } from '../support/expected-days.js';
import { pngSize } from '../support/png.js';

const CHANNEL = 'C0DIGEST01';
const DAY_MS = 86_400_000;
const shift = (day: string, days: number) => new Date(Date.parse(`${day}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
const pct = (value: number, base: number) => {
  const p = Math.round(((value - base) / base) * 100);
  return `${p > 0 ? '+' : p < 0 ? '−' : '±'}${Math.abs(p)} %`;
};

/** The 30-day means and the flags the digest should show for the latest day, from the fake's records. */
function expectedDigest(days: ExpectedDay[], today: string) {
  const byDay = new Map(days.map((day) => [day.day, day]));
  const latest = days.filter((day) => day.day <= today).at(-1)!;
  const before = (day: string) =>
    Array.from({ length: 30 }, (_, i) => byDay.get(shift(day, -(i + 1))))
      .filter((d): d is ExpectedDay => d !== undefined);
  const hrvMean = (day: string) => mean(before(day).flatMap((d) => (d.hrv === undefined ? [] : [d.hrv])));
  const rhrMean = mean(before(latest.day).flatMap((d) => (d.rhr === undefined ? [] : [d.rhr])));
  const last3 = [0, 1, 2].map((back) => byDay.get(shift(latest.day, -back)));
  return {
    latest,
    hrvMean: hrvMean(latest.day),
    rhrMean,
    hrvLow: last3.every((d) => d?.hrv !== undefined && d.hrv <= 0.85 * hrvMean(d.day)),
    red: last3.every((d) => d?.recovery !== undefined && Math.round(d.recovery) <= 33),
    poorSleep: last3.every((d) => d?.performance !== undefined && d.performance < 70),
  };
}

describe('digests', () => {
  let env: Environment;
  const app = () => env.app.app;
  const today = new Date().toISOString().slice(0, 10);

  beforeAll(async () => {
    env = await startEnvironment({ days: 45, env: { SLACK_DIGEST_CHANNEL: CHANNEL, DIGEST_DAILY: '0 7 * * *', DIGEST_WEEKLY: '0 9 * * 0' } });
    // The last three days: scored recoveries in the red with HRV far below normal, so two flags must show.
    const userId = env.member.user_id;
    const recent = env.whoop.data.recoveries.filter((r) => r.user_id === userId).slice(-3);
    const template = env.whoop.data.recoveries.find((r): r is Recovery & { score: NonNullable<Recovery['score']> } => r.user_id === userId && r.score !== undefined)!.score;
    for (const [i, recovery] of recent.entries()) {
      recovery.score_state = 'SCORED';
      recovery.score = { ...template, recovery_score: 20 + i, hrv_rmssd_milli: 20 + i, resting_heart_rate: 60 + i };
    }
    expect((await env.connect()).status).toBe(200);
    // The channel's digests are tested here; the direct messages in test/members/digests.test.ts.
    expect(await (await env.command('digest off', { command: '/whoop' })).text()).toContain('No more digests by direct message');
    expect((await env.command('45')).status).toBe(200);
    await env.slack.waitForMessages(1, 60_000);
    env.slack.reset();
  }, 120_000);
  afterAll(async () => env?.close());

  it('posts the morning digest with recovery, HRV and resting HR against the 30-day mean, sleep, strain and flags', async () => {
    expect(await app().digests.runSlot('daily', new Date('2026-01-01T07:00:00Z'))).toBe('posted');
    const [message] = await env.slack.waitForMessages(1);
    expect(message!.channel).toBe(CHANNEL);
    const days = expectedDays(env.whoop.data, env.member.user_id);
    const expected = expectedDigest(days, today);
    const text = message!.text;
    expect(text).toContain('*Jo Tester*');
    expect(text).toContain(`recovery ${Math.round(expected.latest.recovery!)} % 🔴 red`);
    expect(text).toContain(`HRV ${Math.round(expected.latest.hrv!)} ms (${pct(expected.latest.hrv!, expected.hrvMean)} vs 30-day mean ${Math.round(expected.hrvMean)})`);
    expect(text).toContain(`resting HR ${Math.round(expected.latest.rhr!)} bpm (${pct(expected.latest.rhr!, expected.rhrMean)} vs 30-day mean ${Math.round(expected.rhrMean)})`);
    if (expected.latest.efficiency !== undefined) expect(text).toContain(`efficiency ${Math.round(expected.latest.efficiency)} %`);
    const yesterday = days.find((day) => day.day === shift(expected.latest.day, -1))!;
    expect(text).toContain(`Yesterday: strain ${yesterday.strain!.toFixed(1)}`);
    expect(expected.hrvLow && expected.red).toBe(true);
    expect(text).toContain('🚩 HRV 15 % or more below its 30-day mean three days running');
    expect(text).toContain('🚩 recovery red three days running');
    expect(text.includes('sleep performance below 70 %')).toBe(expected.poorSleep);
    // Block Kit carries the same content.
    const blocks = message!.blocks as { text: { text: string } }[];
    expect(blocks.map((block) => block.text.text).join('\n\n')).toBe(text);
  });

  it('posts each slot once, also with two replicas racing for it, and counts and shows it', async () => {
    env.slack.reset();
    const other = await env.startAnotherApp();
    const slot = new Date('2026-01-02T07:00:00Z');
    const results = await Promise.all([app().digests.runSlot('daily', slot), other.app.digests.runSlot('daily', slot)]);
    expect(results.sort()).toEqual(['claimed_elsewhere', 'posted']);
    expect(env.slack.messages).toHaveLength(1);
    // Counted by whichever replica posted it (one daily digest was posted by this app before).
    const posted = async (url: string) =>
      Number(/whoop_sync_digests_total\{kind="daily",outcome="posted"\} (\d+)/.exec(await (await fetch(`${url}/metrics`)).text())?.[1] ?? 0);
    expect((await posted(env.app.url)) + (await posted(other.url))).toBe(2);
    const status = (await (await fetch(`${env.app.url}/status`)).json()) as { digests: { kind: string; last: { outcome: string } | null }[] };
    expect(status.digests.find((digest) => digest.kind === 'daily')?.last?.outcome).toBe('posted');
    await other.close();
  });

  it('posts the weekly report with the week against the week before and a PNG chart through the upload flow', async () => {
    env.slack.reset();
    expect(await app().digests.runSlot('weekly', new Date('2026-01-04T09:00:00Z'))).toBe('posted');
    const [upload] = await env.slack.waitForUploads(1);
    expect(upload!.channel).toBe(CHANNEL);
    expect(env.slack.calls.map((call) => call.method)).toEqual(['files.getUploadURLExternal', 'upload', 'files.completeUploadExternal']);
    expect(pngSize(upload!.files[0]!.bytes)).toEqual({ width: 1440, height: 640 });
    const days = expectedDays(env.whoop.data, env.member.user_id);
    const week = days.filter((day) => day.day > shift(today, -7) && day.day <= today);
    const before = days.filter((day) => day.day > shift(today, -14) && day.day <= shift(today, -7));
    const recovery = (list: ExpectedDay[]) =>
      mean(list.flatMap((day) => (day.recovery === undefined ? [] : [day.recovery])));
    const text = upload!.initialComment!;
    expect(text).toContain(`recovery ${Math.round(recovery(week))} % (${pct(recovery(week), recovery(before))} vs ${Math.round(recovery(before))} %)`);
    const workouts = env.whoop.data.workouts.filter(
      (w) => w.user_id === env.member.user_id && shift(w.start.slice(0, 10), 0) > shift(today, -8),
    );
    expect(workouts.length).toBeGreaterThan(0);
    expect(text).toMatch(/Workouts: .+ \d+× \d+ h \d\d min/);
  });

  it('refreshes stale data first, and when that sync fails posts what it has and says so', async () => {
    env.slack.reset();
    await app().db.query(`UPDATE "sync_runs" SET "finished_at" = now() - interval '2 hours'`);
    env.whoop.failNext(5, { status: 503, pathPrefix: '/v2/cycle' });
    expect(await app().digests.runSlot('daily', new Date('2026-01-03T07:00:00Z'))).toBe('posted_stale');
    const refresh = await app().db.prisma.syncRun.findFirstOrThrow({ where: { requestedBy: 'digest daily' } });
    expect(refresh).toMatchObject({ days: 3, trigger: 'schedule', status: 'failed' });
    const [message] = await env.slack.waitForMessages(1);
    expect(message!.text).toMatch(/⚠️ Could not refresh the data first \(.+\); values are from the last successful sync/);
    expect(message!.text).toContain('recovery');
  }, 60_000);

  it('logs, counts and records a failed post without retrying it', async () => {
    env.slack.reset();
    env.slack.failAlways({ error: 'channel_not_found' }, { method: 'chat.postMessage' });
    expect(await app().digests.runSlot('daily', new Date('2026-01-05T07:00:00Z'))).toBe('failed');
    env.slack.failAlways(null);
    const post = await app().db.prisma.digestPost.findUniqueOrThrow({ where: { kind_slot: { kind: 'daily', slot: new Date('2026-01-05T07:00:00Z') } } });
    expect(post.error).toMatch(/channel_not_found/);
    expect(await app().digests.runSlot('daily', new Date('2026-01-05T07:00:00Z'))).toBe('claimed_elsewhere');
    expect(env.slack.messages).toHaveLength(0);
    const metrics = await (await fetch(`${env.app.url}/metrics`)).text();
    expect(metrics).toMatch(/whoop_sync_digests_total\{kind="daily",outcome="failed"\} 1/);
  });
});
