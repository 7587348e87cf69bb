import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { onPostgres } from '../support/database.js';
import { expectedIds } from '../support/expected.js';
import { clearRecords, storedIds } from '../support/records.js';
import { startEnvironment, type Environment } from '../support/environment.js';

describe('WHOOP failures during syncs', () => {
  let env: Environment;
  let userId: bigint;
  const db = () => env.app.app.db;
  const sync = (days: number) => env.app.app.sync.syncAll({ days, trigger: 'cli', requestedBy: 'test' });

  beforeAll(async () => {
    env = await startEnvironment({ days: 100, whoop: { accessTokenLifetimeSeconds: 3600 } });
    const connected = await env.connect();
    expect(connected.status).toBe(200);
    userId = BigInt(env.member.user_id);
  });
  afterEach(async () => {
    await clearRecords(db());
    env.whoop.resetStats();
  });
  afterAll(async () => env?.close());

  it('retries 429 and 5xx answers and then succeeds', async () => {
    env.whoop.failNext(1, { status: 429, pathPrefix: '/v2/cycle', headers: { 'X-RateLimit-Reset': '1', 'X-RateLimit-Remaining': '0' } });
    env.whoop.failNext(2, { status: 500, pathPrefix: '/v2/activity/sleep' });
    const outcome = await sync(3);
    expect(outcome.status).toBe('succeeded');
    const metrics = await env.app.app.metrics.registry.getMetricsAsJSON();
    const retries = metrics.find((m) => m.name === 'whoop_api_retries_total')!.values;
    expect(retries.find((v) => v.labels.endpoint === 'cycle')?.value).toBeGreaterThanOrEqual(1);
    expect(retries.find((v) => v.labels.endpoint === 'sleep')?.value).toBeGreaterThanOrEqual(2);
  });

  it('fails cleanly, naming the problem, when WHOOP keeps failing', async () => {
    env.whoop.failNext(5, { status: 503, pathPrefix: '/v2/activity/workout' });
    const outcome = await sync(3);
    expect(outcome.status).toBe('failed');
    expect(outcome.error).toMatch(/^WHOOP request GET \/developer\/v2\/activity\/workout failed: HTTP 503 \(after 5 attempts/);
    // The other collections were still stored.
    expect(outcome.counts.cycles.upserted).toBeGreaterThan(0);
    expect(await db().prisma.whoopWorkout.count()).toBe(0);
    const run = await db().prisma.syncRun.findUniqueOrThrow({ where: { id: outcome.run.id } });
    expect(run.status).toBe('failed');
    expect(run.error).toBe(outcome.error);
  }, 60_000);

  it('fails with an error naming the field when WHOOP sends an unexpected shape', async () => {
    env.whoop.malformNext(1, 'wrong-shape', '/v2/cycle');
    env.whoop.data.workouts[0]!.start = 'yesterday';
    const outcome = await sync(100).finally(() => {
      env.whoop.data.workouts[0]!.start = new Date(Date.now() - 86_400_000).toISOString();
    });
    expect(outcome.status).toBe('failed');
    expect(outcome.error).toContain('WHOOP returned an unexpected cycle page: field records');
  });

  it('retries through a 429 storm, timeouts, malformed JSON and truncated pages, then succeeds', async () => {
    env.whoop.failNext(3, { status: 429, pathPrefix: '/v2/recovery', headers: { 'X-RateLimit-Remaining': '0', 'X-RateLimit-Reset': '1' } });
    env.whoop.malformNext(1, 'invalid-json', '/v2/activity/sleep');
    env.whoop.malformNext(1, 'truncated', '/v2/cycle');
    const outcome = await sync(30);
    expect(outcome.error).toBeUndefined();
    expect(outcome.status).toBe('succeeded');
    const window = { start: outcome.run.windowStart!, end: outcome.run.windowEnd! };
    expect(await storedIds(db(), userId)).toEqual(expectedIds(env.whoop, env.member.user_id, window));
  }, 60_000);

  it('gives up on a persistent rate limit with a clear message, and the next sync succeeds', async () => {
    env.whoop.failNext(5, { status: 429, pathPrefix: '/v2/cycle', headers: { 'X-RateLimit-Remaining': '0', 'X-RateLimit-Reset': '1' } });
    const outcome = await sync(2);
    expect(outcome.status).toBe('failed');
    expect(outcome.error).toMatch(/^WHOOP rate limit exceeded for GET \/developer\/v2\/cycle \(after 5 attempts over \d+ s\); the next sync will try again$/);
    expect((await sync(2)).status).toBe('succeeded');
  }, 60_000);

  it('times out a WHOOP request that does not answer and retries it', async () => {
    env.whoop.slowNext(1, 16_000);
    const outcome = await sync(1);
    expect(outcome.status).toBe('succeeded');
  }, 60_000);

  it('keeps the result on the run when Slack is down, and posts again once Slack is back', async () => {
    env.slack.failAlways({ status: 500 });
    env.slack.failResponseUrls(503);
    try {
      await env.command('1', { response_url: env.slack.responseUrl('down') });
      await env.app.app.dispatcher.idle(30_000);
      const run = await db().prisma.syncRun.findFirstOrThrow({ orderBy: { id: 'desc' } });
      expect(run.status).toBe('succeeded');
      expect(run.reportError).toMatch(/^chat\.postMessage failed: .*; response_url answered HTTP 503$/);
    } finally {
      env.slack.failAlways(null);
      env.slack.failResponseUrls(null);
    }
    expect((await fetch(`${env.app.url}/healthz`)).status).toBe(200);
    await env.command('1');
    expect((await env.slack.waitForMessages(1, 20_000))[0]!.text).toMatch(/^✅/);
  }, 60_000);

  if (onPostgres) {
    it('survives its Postgres connections being killed mid-sync: no duplicates, no token lost, next sync succeeds', async () => {
      const token = await db().prisma.whoopToken.findUniqueOrThrow({ where: { userId } });
      const release = env.whoop.hold();
      const running = sync(30);
      await expect.poll(() => env.whoop.stats.requests.some((r) => r.path === '/developer/v2/cycle' && r.status === 0)).toBe(true);
      const admin = new pg.Client({ connectionString: env.db.databaseUrl });
      await admin.connect();
      try {
        const { rows } = await admin.query(
          'SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
        );
        expect(rows.length).toBeGreaterThan(0);
      } finally {
        await admin.end();
      }
      release();
      const outcome = await running.catch((error: Error) => ({ status: 'threw', error: error.message }) as const);
      // Either outcome is acceptable, as long as it is clear; what matters is what follows.
      if (outcome.status !== 'succeeded') expect(outcome.error).toBeTruthy();
      expect((await fetch(`${env.app.url}/healthz`)).status).toBe(200);
      const next = await sync(30);
      expect(next.status).toBe('succeeded');
      const window = { start: next.run.windowStart!, end: next.run.windowEnd! };
      expect(await storedIds(db(), userId)).toEqual(expectedIds(env.whoop, env.member.user_id, window));
      const after = await db().prisma.whoopToken.findUniqueOrThrow({ where: { userId } });
      expect(after.status).toBe('active');
      expect(after.refreshToken).toBe(token.refreshToken);
      expect(env.whoop.stats.invalidGrants).toBe(0);
    }, 60_000);
  }
});
