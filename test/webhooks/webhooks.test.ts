// POST /webhooks/whoop end to end: signed deliveries from the fake WHOOP to the real app over HTTP, the
// worker fetching what they name, and every refusal.
import { createHmac, randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEnvironment, type Environment } from '../support/environment.js';
import { clearRecords, storedCount, storedRow } from '../support/records.js';
import { until } from '../support/until.js';
import { apiPaths, deliver, processed, type EventInput } from './support.js';
import { settled } from '../support/settled.js';

describe('WHOOP webhooks', () => {
  let env: Environment;
  let userId: number;
  const db = () => env.app.app.db;
  const send = (event: EventInput, options?: Parameters<typeof deliver>[3]) =>
    deliver(env.whoop, env.app.url, event, options);
  const eventRows = () => db().prisma.webhookEvent.findMany();
  const metric = async (name: string) => (await env.app.app.metrics.registry.getSingleMetricAsString(name)).split('\n').filter((line) => !line.startsWith('#'));
  const syncDays = (days: number) => env.app.app.sync.syncAll({ days, trigger: 'cli', requestedBy: 'test' });
  const post = (body: string, headers: Record<string, string>) => fetch(`${env.app.url}/webhooks/whoop`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const latestSleep = () =>
    env.whoop.data.sleeps
      .filter((s) => s.user_id === userId && !s.nap)
      .sort((a, b) => b.start.localeCompare(a.start))[0]!;

  beforeAll(async () => {
    env = await startEnvironment({ days: 10 });
    expect((await env.connect()).status).toBe(200);
    userId = env.member.user_id;
    env.whoop.resetStats();
  });
  afterEach(async () => {
    await processed(db());
    await settled(env.app.app.db);
    await clearRecords(db());
    await db().prisma.webhookEvent.deleteMany();
    env.whoop.resetStats();
  });
  afterAll(async () => env?.close());

  it('sleep.updated stores that sleep and its cycle’s recovery, fetching nothing else', async () => {
    const sleep = latestSleep();
    const result = await send({ user_id: userId, id: sleep.id, type: 'sleep.updated' });
    expect(result).toMatchObject({ delivered: true, attempts: [200] });
    await processed(db());
    const stored = await storedRow(db(), 'whoop_sleeps', { id: sleep.id });
    expect(stored.respiratory_rate).toBe(sleep.score?.respiratory_rate ?? null);
    const recovery = await storedRow(db(), 'whoop_recoveries', { cycle_id: BigInt(sleep.cycle_id) });
    expect(recovery.sleep_id).toBe(sleep.id);
    expect(recovery.sleep_start?.toISOString()).toBe(new Date(sleep.start).toISOString());
    expect(apiPaths(env.whoop).sort()).toEqual([`/v2/activity/sleep/${sleep.id}`, `/v2/cycle/${sleep.cycle_id}/recovery`].sort());
    expect(await storedCount(db(), 'whoop_cycles')).toBe(0);
    expect((await eventRows())[0]).toMatchObject({ status: 'done', attempts: 0 });
    expect(await metric('whoop_sync_webhooks_total')).toEqual(
      expect.arrayContaining([expect.stringMatching(/type="sleep.updated",outcome="accepted"\} 1$/), expect.stringMatching(/type="sleep.updated",outcome="processed"\} 1$/)]),
    );
    expect((await metric('whoop_sync_webhook_freshness_seconds')).find((line) => line.startsWith('whoop_sync_webhook_freshness_seconds_count'))).toMatch(/ 1$/);
  });

  it('recovery.updated (id = the sleep) refreshes the recovery and its cycle, finding the cycle in the table', async () => {
    await syncDays(5);
    env.whoop.resetStats();
    const sleep = latestSleep();
    const recovery = env.whoop.data.recoveries.find((r) => r.sleep_id === sleep.id)!;
    const cycle = env.whoop.data.cycles.find((c) => c.id === sleep.cycle_id)!;
    recovery.score = { ...recovery.score!, recovery_score: 3 };
    recovery.updated_at = new Date().toISOString();
    cycle.score = { ...cycle.score!, strain: 20.5 };
    cycle.score_state = 'SCORED';
    await send({ user_id: userId, id: sleep.id, type: 'recovery.updated' });
    await processed(db());
    const stored = await storedRow(db(), 'whoop_recoveries', { cycle_id: BigInt(recovery.cycle_id) });
    expect(stored.recovery_score).toBe(3);
    expect((await storedRow(db(), 'whoop_cycles', { id: BigInt(cycle.id) })).strain).toBe(20.5);
    expect(apiPaths(env.whoop).sort()).toEqual([`/v2/cycle/${cycle.id}`, `/v2/cycle/${cycle.id}/recovery`].sort());
  });

  it('recovery.updated for a sleep not stored yet fetches the sleep to find its cycle', async () => {
    const sleep = latestSleep();
    await send({ user_id: userId, id: sleep.id.toUpperCase(), type: 'recovery.updated' });
    await processed(db());
    expect(apiPaths(env.whoop).sort()).toEqual([`/v2/activity/sleep/${sleep.id}`, `/v2/cycle/${sleep.cycle_id}`, `/v2/cycle/${sleep.cycle_id}/recovery`].sort());
    expect(await storedCount(db(), 'whoop_recoveries', { cycle_id: BigInt(sleep.cycle_id) })).toBe(1);
    expect(await storedCount(db(), 'whoop_cycles', { id: BigInt(sleep.cycle_id) })).toBe(1);
    expect(await storedCount(db(), 'whoop_sleeps', { id: sleep.id })).toBe(1);
  });

  it('workout.updated stores the workout and refreshes the cycle it belongs to', async () => {
    const workout = env.whoop.data.workouts
      .filter((w) => w.user_id === userId)
      .sort((a, b) => b.start.localeCompare(a.start))[3]!;
    workout.score = { ...workout.score!, strain: 17.25 };
    const cycle = env.whoop.data.cycles.find(
      (c) =>
        c.user_id === userId &&
        Date.parse(c.start) <= Date.parse(workout.start) &&
        (!c.end || Date.parse(c.end) > Date.parse(workout.start)),
    )!;
    await send({ user_id: userId, id: workout.id, type: 'workout.updated' });
    await processed(db());
    expect((await storedRow(db(), 'whoop_workouts', { id: workout.id })).strain).toBe(17.25);
    expect(await storedCount(db(), 'whoop_cycles', { id: BigInt(cycle.id) })).toBe(1);

    // Once the cycle is stored, the next event refreshes it by its id.
    env.whoop.resetStats();
    await send({ user_id: userId, id: workout.id, type: 'workout.updated' });
    await processed(db());
    expect(apiPaths(env.whoop).sort()).toEqual([`/v2/activity/workout/${workout.id}`, `/v2/cycle/${cycle.id}`].sort());
  });

  it('*.deleted removes the row (a recovery by its sleep) without asking WHOOP', async () => {
    await syncDays(5);
    env.whoop.resetStats();
    const sleep = latestSleep();
    const workout = env.whoop.data.workouts.find(
      (w) => w.user_id === userId && Date.parse(w.start) > Date.now() - 4 * 86_400_000,
    )!;
    for (const event of [
      { user_id: userId, id: sleep.id, type: 'recovery.deleted' },
      { user_id: userId, id: sleep.id, type: 'sleep.deleted' },
      { user_id: userId, id: workout.id, type: 'workout.deleted' },
    ] as const) {
      expect((await send(event)).delivered).toBe(true);
    }
    await processed(db());
    expect(await storedCount(db(), 'whoop_recoveries', { sleep_id: sleep.id })).toBe(0);
    expect(await storedCount(db(), 'whoop_sleeps', { id: sleep.id })).toBe(0);
    expect(await storedCount(db(), 'whoop_workouts', { id: workout.id })).toBe(0);
    expect(await storedCount(db(), 'whoop_cycles')).toBeGreaterThan(3);
    expect(apiPaths(env.whoop)).toEqual([]);
  });

  it('answers 2xx before asking WHOOP anything, and records the event first', async () => {
    const sleep = latestSleep();
    const release = env.whoop.hold();
    try {
      const result = await send({ user_id: userId, id: sleep.id, type: 'sleep.updated' });
      expect(result.attempts).toEqual([200]);
      // WHOOP has answered nothing: the 2xx did not wait for it.
      expect(env.whoop.stats.requests.filter((r) => r.path.startsWith('/developer/') && r.status !== 0)).toEqual([]);
      expect(await eventRows()).toEqual([expect.objectContaining({ traceId: result.event.trace_id, status: 'pending', type: 'sleep.updated', recordId: sleep.id })]);
      expect(await storedCount(db(), 'whoop_sleeps')).toBe(0);
    } finally {
      release();
    }
    await processed(db());
    expect(await storedCount(db(), 'whoop_sleeps')).toBe(1);
  });

  it('a redelivered trace_id gets a 2xx and no second fetch', async () => {
    const sleep = latestSleep();
    const traceId = randomUUID();
    await send({ user_id: userId, id: sleep.id, type: 'sleep.updated', trace_id: traceId });
    await processed(db());
    await settled(env.app.app.db);
    const again = await send({ user_id: userId, id: sleep.id, type: 'sleep.updated', trace_id: traceId });
    expect(again.attempts).toEqual([200]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await settled(env.app.app.db);
    expect(apiPaths(env.whoop).filter((path) => path.startsWith('/v2/activity/sleep/'))).toHaveLength(1);
    expect(await eventRows()).toHaveLength(1);
    expect(await metric('whoop_sync_webhooks_total')).toEqual(expect.arrayContaining([expect.stringMatching(/outcome="duplicate"\} 1$/)]));
  });

  it('coalesces a burst: ten events for one sleep are not ten fetches or ten passes', async () => {
    const sleep = latestSleep();
    const before = (await metric('whoop_sync_runs_total')).find((line) => line.includes('trigger="webhook"'));
    const release = env.whoop.hold();
    try {
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => send({ user_id: userId, id: sleep.id, type: i % 2 ? 'sleep.updated' : 'recovery.updated' })));
      expect(results.every((r) => r.delivered)).toBe(true);
    } finally {
      release();
    }
    await processed(db());
    // Events recorded while a pass waits for WHOOP are served by the next pass: at most two.
    expect(apiPaths(env.whoop).filter((path) => path === `/v2/activity/sleep/${sleep.id}`).length).toBeLessThanOrEqual(2);
    expect(apiPaths(env.whoop).filter((path) => path === `/v2/cycle/${sleep.cycle_id}/recovery`).length).toBeLessThanOrEqual(2);
    const after = (await metric('whoop_sync_runs_total')).find((line) => line.includes('trigger="webhook"'))!;
    const passes = (line: string | undefined) => Number(line?.split(' ').at(-1) ?? 0);
    expect(passes(after) - passes(before)).toBeLessThanOrEqual(2);
  });

  it('an event for a member who is not connected gets a 2xx, is counted, and fetches nothing', async () => {
    const stranger = env.whoop.addMember();
    env.whoop.generate(stranger.user_id, { days: 2 });
    const sleep = env.whoop.data.sleeps.find((s) => s.user_id === stranger.user_id)!;
    const result = await send({ user_id: stranger.user_id, id: sleep.id, type: 'sleep.updated' });
    expect(result.attempts).toEqual([200]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await eventRows()).toEqual([]);
    expect(apiPaths(env.whoop)).toEqual([]);
    expect(await metric('whoop_sync_webhooks_total')).toEqual(expect.arrayContaining([expect.stringMatching(/type="sleep.updated",outcome="not_connected"\} 1$/)]));
  });

  it('refuses unsigned, forged, stale and future deliveries with 401, and starts nothing', async () => {
    const sleep = latestSleep();
    const event = { user_id: userId, id: sleep.id, type: 'sleep.updated' } as const;
    expect((await send(event, { secret: 'not-the-client-secret' })).attempts).toEqual([401]);
    expect((await send(event, { timestampMs: Date.now() - 6 * 60_000 })).attempts).toEqual([401]);
    expect((await send(event, { timestampMs: Date.now() + 6 * 60_000 })).attempts).toEqual([401]);
    const body = JSON.stringify({ ...event, trace_id: randomUUID() });
    const unsigned = await post(body, {});
    expect(unsigned.status).toBe(401);
    const text = await unsigned.text();
    expect(text).toContain('missing_signature');
    expect((await post(body, { 'x-whoop-signature': 'AAAA', 'x-whoop-signature-timestamp': String(Date.now()) })).status).toBe(401);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await eventRows()).toEqual([]);
    expect(apiPaths(env.whoop)).toEqual([]);
  });

  it('answers a signed body that is not an event with 400, an oversized one with 413, and an unknown type with 2xx', async () => {
    const signedPost = (body: string) => {
      const timestamp = String(Date.now());
      const signature = createHmac('sha256', env.whoop.clientSecret).update(timestamp + body).digest('base64');
      return post(body, { 'x-whoop-signature': signature, 'x-whoop-signature-timestamp': timestamp });
    };
    for (const body of ['not json', '[]', '{}', JSON.stringify({ user_id: 'x', id: 'y', type: 'sleep.updated', trace_id: 't' }), JSON.stringify({ user_id: userId, id: 'not-a-uuid', type: 'sleep.updated', trace_id: 't' })]) {
      const response = await signedPost(body);
      expect(response.status, body).toBe(400);
      expect(await response.json()).toMatchObject({ error: 'Bad Request' });
    }
    expect((await signedPost(JSON.stringify({ user_id: userId, id: randomUUID(), type: 'sleep.updated', trace_id: 'x'.repeat(10_000) }))).status).toBe(413);
    expect((await signedPost(JSON.stringify({ user_id: userId, id: randomUUID(), type: 'cycle.updated', trace_id: randomUUID() }))).status).toBe(200);
    expect(await eventRows()).toEqual([]);
    expect(apiPaths(env.whoop)).toEqual([]);
  });

  it('a failed fetch is logged, counted, retried with backoff and shown in /status, and posts nothing to Slack', async () => {
    const sleep = latestSleep();
    // Every attempt the WHOOP client makes for the first pass fails.
    env.whoop.failNext(5, { status: 500, pathPrefix: '/v2/activity/sleep/' });
    await send({ user_id: userId, id: sleep.id, type: 'sleep.updated' });
    await until(async () => (await eventRows())[0]?.attempts === 1, 'the first attempt to fail', 30_000);
    const status = (await (await fetch(`${env.app.url}/status`)).json()) as { webhooks: Record<string, unknown> };
    expect(status.webhooks).toMatchObject({ retrying: 1, lastError: expect.stringContaining('HTTP 500') });
    expect(await metric('whoop_sync_webhooks_total')).toEqual(expect.arrayContaining([expect.stringMatching(/type="sleep.updated",outcome="retried"\} 1$/)]));
    await processed(db(), 40_000);
    expect((await eventRows())[0]).toMatchObject({ status: 'done', attempts: 1 });
    expect(await storedCount(db(), 'whoop_sleeps', { id: sleep.id })).toBe(1);
    expect(env.slack.messages).toEqual([]);
  }, 60_000);

  it('rate limits unverified requests per address', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 35; i++) statuses.push((await post('{}', { 'x-whoop-signature': 'x', 'x-whoop-signature-timestamp': '1' })).status);
    // The forgeries of the earlier tests count too.
    expect(new Set(statuses)).toEqual(new Set([401, 429]));
    expect(statuses.at(-1)).toBe(429);
    // WHOOP's own deliveries still go through.
    expect((await send({ user_id: userId, id: latestSleep().id, type: 'sleep.deleted' })).attempts).toEqual([200]);
  });
});
