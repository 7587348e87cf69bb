import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { expectedIds } from '../support/expected.js';
import { collectGarbage } from '../support/garbage.js';
import { storedCount, storedIds } from '../support/records.js';
import { syncHarness } from '../support/sync-harness.js';
import { until } from '../support/until.js';

describe('WHOOP failures during syncs', () => {
  const h = syncHarness({ days: 100, whoop: { accessTokenLifetimeSeconds: 3600 } });
  const retries = async () =>
    ((await h.env.app.app.metrics.registry.getMetricsAsJSON()).find((m) => m.name === 'whoop_api_retries_total')?.values ?? []).reduce(
      (sum, value) => sum + value.value,
      0,
    );

  it('retries 429 and 5xx answers and then succeeds', async () => {
    h.env.whoop.failNext(1, { status: 429, pathPrefix: '/v2/cycle', headers: { 'X-RateLimit-Reset': '1', 'X-RateLimit-Remaining': '0' } });
    h.env.whoop.failNext(2, { status: 500, pathPrefix: '/v2/activity/sleep' });
    const outcome = await h.sync(3);
    expect(outcome.status).toBe('succeeded');
    const metrics = await h.env.app.app.metrics.registry.getMetricsAsJSON();
    const retries = metrics.find((m) => m.name === 'whoop_api_retries_total')!.values;
    expect(retries.find((v) => v.labels.endpoint === 'cycle')?.value).toBeGreaterThanOrEqual(1);
    expect(retries.find((v) => v.labels.endpoint === 'sleep')?.value).toBeGreaterThanOrEqual(2);
  });

  it('fails cleanly, naming the problem, when WHOOP keeps failing', async () => {
    h.env.whoop.failNext(5, { status: 503, pathPrefix: '/v2/activity/workout' });
    const outcome = await h.sync(3);
    expect(outcome.status).toBe('failed');
    expect(outcome.error).toMatch(/^WHOOP request GET \/developer\/v2\/activity\/workout failed: HTTP 503 \(after 5 attempts/);
    // The other collections were still stored.
    expect(outcome.counts.cycles.upserted).toBeGreaterThan(0);
    expect(await storedCount(h.db(), 'whoop_workouts')).toBe(0);
    const run = await h.db().prisma.syncRun.findUniqueOrThrow({ where: { id: outcome.run.id } });
    expect(run.status).toBe('failed');
    expect(run.error).toBe(outcome.error);
  }, 60_000);

  it('fails with an error naming the field when WHOOP sends an unexpected shape', async () => {
    h.env.whoop.malformNext(1, 'wrong-shape', '/v2/cycle');
    h.env.whoop.data.workouts[0]!.start = 'yesterday';
    const outcome = await h.sync(100).finally(() => {
      h.env.whoop.data.workouts[0]!.start = new Date(Date.now() - 86_400_000).toISOString();
    });
    expect(outcome.status).toBe('failed');
    expect(outcome.error).toContain('WHOOP returned an unexpected cycle page: field records');
  });

  it('retries through a 429 storm, timeouts, malformed JSON and truncated pages, then succeeds', async () => {
    h.env.whoop.failNext(3, { status: 429, pathPrefix: '/v2/recovery', headers: { 'X-RateLimit-Remaining': '0', 'X-RateLimit-Reset': '1' } });
    h.env.whoop.malformNext(1, 'invalid-json', '/v2/activity/sleep');
    h.env.whoop.malformNext(1, 'truncated', '/v2/cycle');
    const outcome = await h.sync(30);
    expect(outcome.error).toBeUndefined();
    expect(outcome.status).toBe('succeeded');
    const window = { start: outcome.run.windowStart!, end: outcome.run.windowEnd! };
    expect(await storedIds(h.db(), h.userId)).toEqual(expectedIds(h.env.whoop, h.env.member.user_id, window));
  }, 60_000);

  it('waits out a rate limit that outlasts five attempts instead of failing', async () => {
    h.env.whoop.failNext(6, { status: 429, pathPrefix: '/v2/cycle', headers: { 'X-RateLimit-Remaining': '0', 'X-RateLimit-Reset': '1' } });
    const outcome = await h.sync(2);
    expect(outcome.status).toBe('succeeded');
    expect(h.env.whoop.stats.requests.filter((r) => r.path === '/developer/v2/cycle' && r.status === 429)).toHaveLength(6);
  }, 60_000);

  it('keeps and counts the pages written before a failed page, and deletes nothing after an incomplete read', async () => {
    const first = await h.sync(90);
    expect(first.status).toBe('succeeded');
    const start = first.run.windowStart!.getTime();
    // The member's workouts as WHOOP pages them: newest first, 25 a page.
    const listed = h.env.whoop.data.workouts
      .filter((w) => w.user_id === h.env.member.user_id && Date.parse(w.start) >= start)
      .sort((a, b) => Date.parse(b.start) - Date.parse(a.start));
    expect(listed.length).toBeGreaterThan(60);
    // WHOOP deleted one workout of the first page, and one record of the third page is malformed.
    const removed = listed[10]!;
    const broken = listed[56]!;
    const state = broken.score_state;
    h.env.whoop.data.workouts.splice(h.env.whoop.data.workouts.indexOf(removed), 1);
    (broken as { score_state: string }).score_state = 'NOT_A_STATE';
    try {
      const outcome = await h.sync(90);
      expect(outcome.status).toBe('failed');
      expect(outcome.error).toContain('workout');
      // Pages 1 and 2 were written before page 3 failed validation; the other collections completed.
      expect(outcome.counts.workouts).toEqual({ upserted: 50, deleted: 0 });
      expect(outcome.counts.cycles.upserted).toBeGreaterThan(0);
      // The listing never completed, so the workout WHOOP no longer returns was not deleted.
      expect((await storedIds(h.db(), h.userId)).workouts).toContain(removed.id);
    } finally {
      broken.score_state = state;
      h.env.whoop.data.workouts.push(removed);
    }
    // Once WHOOP answers well again, the next sync completes the window.
    const next = await h.sync(90);
    expect(next.status).toBe('succeeded');
    const window = { start: next.run.windowStart!, end: next.run.windowEnd! };
    expect(await storedIds(h.db(), h.userId)).toEqual(expectedIds(h.env.whoop, h.env.member.user_id, window));
  }, 60_000);

  it('times out a WHOOP request that does not answer and retries it, also when garbage is collected meanwhile', async () => {
    // The first request would be answered only after a minute; the 15 s timeout must end it first. A
    // timeout that is itself garbage-collected never fires (AbortSignal.any() on Node 20), so collections
    // run while the request waits.
    h.env.whoop.slowNext(1, 60_000);
    const retriesBefore = await retries();
    const collecting = setInterval(collectGarbage, 250);
    const started = Date.now();
    const outcome = await h.sync(1).finally(() => clearInterval(collecting));
    expect(outcome.status).toBe('succeeded');
    expect(Date.now() - started).toBeLessThan(45_000);
    expect((await retries()) - retriesBefore).toBe(1);
  }, 90_000);

  it('keeps the result on the run when Slack is down, and posts again once Slack is back', async () => {
    h.env.slack.failAlways({ status: 500 });
    h.env.slack.failResponseUrls(503);
    try {
      await h.env.command('1', { response_url: h.env.slack.responseUrl('down') });
      await until(async () => (await h.db().prisma.syncRun.findFirst({ orderBy: { id: 'desc' } }))?.reportError != null, 'a failed delivery');
      const run = await h.db().prisma.syncRun.findFirstOrThrow({ orderBy: { id: 'desc' } });
      expect(run.status).toBe('succeeded');
      expect(run.reportError).toMatch(/^chat\.postMessage failed: .*; response_url answered HTTP 503$/);
    } finally {
      h.env.slack.failAlways(null);
      h.env.slack.failResponseUrls(null);
    }
    expect((await fetch(`${h.env.app.url}/healthz`)).status).toBe(200);
    await h.env.command('1');
    expect((await h.env.slack.waitForMessages(1, 20_000))[0]!.text).toMatch(/^✅/);
  }, 60_000);

  it('survives its Postgres connections being killed mid-sync: no duplicates, no token lost, next sync succeeds', async () => {
    const token = await h.db().prisma.whoopToken.findUniqueOrThrow({ where: { userId: h.userId } });
    const release = h.env.whoop.hold();
    const running = h.sync(30).catch((error: Error) => ({ status: 'threw', error: error.message }) as const);
    try {
      await expect.poll(() => h.env.whoop.stats.requests.some((r) => r.path === '/developer/v2/cycle' && r.status === 0)).toBe(true);
      const admin = new pg.Client({ connectionString: h.env.db.databaseUrl });
      await admin.connect();
      try {
        const { rows } = await admin.query(
          'SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
        );
        expect(rows.length).toBeGreaterThan(0);
      } finally {
        await admin.end();
      }
    } finally {
      // Held requests would otherwise keep the sync running past the test and into the database's shutdown.
      release();
    }
    const outcome = await running;
    // Either outcome is acceptable, as long as it is clear; what matters is what follows.
    if (outcome.status !== 'succeeded') expect(outcome.error).toBeTruthy();
    expect((await fetch(`${h.env.app.url}/healthz`)).status).toBe(200);
    const next = await h.sync(30);
    expect(next.status).toBe('succeeded');
    const window = { start: next.run.windowStart!, end: next.run.windowEnd! };
    expect(await storedIds(h.db(), h.userId)).toEqual(expectedIds(h.env.whoop, h.env.member.user_id, window));
    const after = await h.db().prisma.whoopToken.findUniqueOrThrow({ where: { userId: h.userId } });
    expect(after.status).toBe('active');
    expect(after.refreshToken).toBe(token.refreshToken);
    expect(h.env.whoop.stats.invalidGrants).toBe(0);
  }, 60_000);
});
