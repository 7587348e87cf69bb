import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { clearRecords } from '../support/records.js';
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
});
