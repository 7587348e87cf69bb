// The run pipeline under faults injected in the real components: WHOOP paging forever, Slack refusing
// every path, and the database going away in the middle of a sync (through a TCP proxy the test cuts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEnvironment, sendCommand, type Environment } from '../support/environment.js';
import { startTcpProxy } from '../support/tcp-proxy.js';

const counter = async (env: Environment, name: string) =>
  Object.fromEntries(
    ((await env.app.app.metrics.registry.getSingleMetric(name)?.get())?.values ?? [])
      .map((v) => [String(v.labels.outcome), v.value]),
  );

describe('the run pipeline under faults', () => {
  let env: Environment;
  const prisma = () => env.app.app.db.prisma;

  beforeAll(async () => {
    env = await startEnvironment({ days: 10, env: { SLACK_RESULT_RETRY_SECONDS: '6' } });
    expect((await env.connect()).status).toBe(200);
  });
  afterAll(async () => env?.close());

  it('stops a listing that pages beyond what the window can hold, with a clear error, and frees the lock', async () => {
    env.whoop.paginateForever('cycle');
    try {
      const outcome = await env.app.app.sync.syncAll({ days: 3, trigger: 'cli', requestedBy: 'test' });
      expect(outcome.status).toBe('failed');
      expect(outcome.error).toMatch(/^WHOOP returned more than \d+ pages of cycles for .* → .*, more than the window can hold: the listing was stopped$/);
      expect(outcome.counts.sleeps.upserted).toBeGreaterThan(0); // the other collections completed
      expect(env.whoop.stats.requests.filter((r) => r.path === '/developer/v2/cycle').length).toBeLessThan(10);
    } finally {
      env.whoop.paginateForever('cycle', false);
    }
    // The lock is free: the next sync runs at once.
    expect((await env.app.app.sync.syncAll({ days: 3, trigger: 'cli', requestedBy: 'test' })).status).toBe('succeeded');
  });

  it('retries a result no path accepts, shows it in /status, counts it, and gives up after the retry window', async () => {
    env.slack.reset();
    env.slack.failAlways({ error: 'not_in_channel' });
    env.slack.failResponseUrls(404);
    const before = await counter(env, 'whoop_sync_result_delivery_failures_total');
    try {
      expect((await env.command('1', { response_url: env.slack.responseUrl('gone') })).status).toBe(200);
      const run = async () => prisma().syncRun.findFirstOrThrow({ where: { trigger: 'slack' }, orderBy: { id: 'desc' } });
      await expect.poll(async () => (await run()).reportAttempts, { timeout: 20_000 }).toBeGreaterThanOrEqual(2);
      const status = (await (await fetch(`${env.app.url}/status`)).json()) as { recentRuns: Array<{ id: number; report: { state: string; error: string } }> };
      const shown = status.recentRuns.find((each) => each.report.error)!;
      expect(shown.report).toMatchObject({ state: 'retrying', error: 'chat.postMessage failed: not_in_channel; response_url answered HTTP 404' });
      await expect.poll(async () => (await run()).reportGaveUpAt, { timeout: 20_000 }).toBeInstanceOf(Date);
      expect((await run()).reportedAt).toBeNull();
      const after = await counter(env, 'whoop_sync_result_delivery_failures_total');
      expect((after.retrying ?? 0) - (before.retrying ?? 0)).toBeGreaterThanOrEqual(2);
      expect((after.gave_up ?? 0) - (before.gave_up ?? 0)).toBe(1);
    } finally {
      env.slack.failAlways(null);
      env.slack.failResponseUrls(null);
    }
  }, 60_000);

  it('keeps the next attempt of a refused result in the run: 2 s doubling, the last at the end of the retry window', async () => {
    env.slack.reset();
    env.slack.failAlways({ error: 'not_in_channel' });
    env.slack.failResponseUrls(404);
    try {
      expect((await env.command('1', { response_url: env.slack.responseUrl('backoff') })).status).toBe(200);
      const run = async () => prisma().syncRun.findFirstOrThrow({ where: { trigger: 'slack' }, orderBy: { id: 'desc' } });
      await expect.poll(async () => (await run()).reportAttempts, { timeout: 20_000 }).toBeGreaterThanOrEqual(1);
      const first = await run();
      // The first attempt follows the finish at once, so its retry is due about 2 s after the finish.
      const firstDelay = first.reportNextAt!.getTime() - first.finishedAt!.getTime();
      expect(firstDelay).toBeGreaterThanOrEqual(2_000);
      expect(firstDelay).toBeLessThan(4_000);
      // The second would wait 4 s, past the 6 s window: it is due at the window's end instead.
      await expect.poll(async () => (await run()).reportAttempts, { timeout: 20_000 }).toBeGreaterThanOrEqual(2);
      const second = await run();
      expect(second.reportNextAt!.getTime() - second.finishedAt!.getTime()).toBe(6_000);
      await expect.poll(async () => (await run()).reportGaveUpAt, { timeout: 20_000 }).toBeInstanceOf(Date);
      expect((await run()).reportAttempts).toBe(3);
    } finally {
      env.slack.failAlways(null);
      env.slack.failResponseUrls(null);
    }
  }, 60_000);

  it('delivers a result once Slack accepts it again within the retry window', async () => {
    env.slack.reset();
    env.slack.failNext(1, { error: 'not_in_channel' });
    env.slack.failResponseUrls(404);
    try {
      await env.command('1', { response_url: env.slack.responseUrl('later') });
      await expect.poll(async () => (await prisma().syncRun.findFirstOrThrow({ orderBy: { id: 'desc' } })).reportAttempts, { timeout: 20_000 }).toBe(1);
    } finally {
      env.slack.failResponseUrls(null);
    }
    const [message] = await env.slack.waitForMessages(1, 20_000);
    expect(message!.text).toMatch(/^✅ Sync for <@U0ALICE001>/);
    await expect.poll(async () => (await prisma().syncRun.findFirstOrThrow({ orderBy: { id: 'desc' } })).reportedAt, { timeout: 10_000 }).toBeInstanceOf(Date);
  }, 60_000);

  it('stops a listing that outlasts SYNC_DEADLINE_SECONDS, with a clear error, and frees the lock', async () => {
    // The deadline is the worker's: this app stops being the worker, and the other one takes over.
    await env.app.app.worker.stop(5_000);
    await env.app.app.worker.release();
    const other = await env.startAnotherApp({ SYNC_DEADLINE_SECONDS: '1' });
    // Pages that never end, each taking half a second: the deadline passes before the page limit (4 for 3 days).
    env.whoop.paginateForever('cycle');
    env.whoop.setLatency(500);
    env.whoop.resetStats();
    try {
      const outcome = await other.app.sync.syncAll({ days: 3, trigger: 'cli', requestedBy: 'test' });
      expect(outcome.status).toBe('failed');
      expect(outcome.error).toBe("listing cycles took longer than the sync's deadline: the listing was stopped");
      expect(outcome.counts.sleeps.upserted).toBeGreaterThan(0); // the other collections completed
      const run = await prisma().syncRun.findUniqueOrThrow({ where: { id: outcome.run.id } });
      expect(run).toMatchObject({ status: 'failed', error: outcome.error });
      expect(env.whoop.stats.requests.filter((r) => r.path === '/developer/v2/cycle').length).toBeLessThanOrEqual(4);
    } finally {
      env.whoop.paginateForever('cycle', false);
      env.whoop.setLatency(0);
    }
    // The worker is free: the next sync, recorded by either process, runs at once.
    expect((await other.app.sync.syncAll({ days: 3, trigger: 'cli', requestedBy: 'test' })).status).toBe('succeeded');
    expect((await env.app.app.sync.syncAll({ days: 3, trigger: 'cli', requestedBy: 'test' })).status).toBe('succeeded');
    await other.close();
  });

  it('finishes and reports a run whose database went away mid-sync for seconds (the worker is the other app)', async () => {
    const target = new URL(env.db.databaseUrl!);
    const proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
    const proxied = new URL(target);
    proxied.host = `127.0.0.1:${proxy.port}`;
    const other = await env.startAnotherApp({ DATABASE_URL: proxied.toString() });
    env.slack.reset();
    try {
      const release = env.whoop.hold();
      try {
        // The other app takes the worker lock within a few seconds of the previous worker's close.
        await expect.poll(() => other.app.worker.active, { timeout: 10_000 }).toBe(true);
        expect((await sendCommand(other.url, '3')).status).toBe(200);
        const reached = () => env.whoop.stats.requests.some((r) => r.path === '/developer/v2/cycle' && r.status === 0);
        await expect.poll(reached, { timeout: 10_000 }).toBe(true);
        await proxy.cut();
      } finally {
        release();
      }
      // Down long enough for the sync's writes and its final update to fail, then back.
      await new Promise((resolve) => setTimeout(resolve, 8_000));
      expect(await prisma().syncRun.findFirstOrThrow({ orderBy: { id: 'desc' } })).toMatchObject({ status: 'running' });
      await proxy.restore();
      const [message] = await env.slack.waitForMessages(1, 40_000);
      expect(message!.text).toMatch(/^✅ Sync for <@U0ALICE001>/);
      const run = await prisma().syncRun.findFirstOrThrow({ orderBy: { id: 'desc' } });
      expect(run).toMatchObject({ status: 'succeeded', error: null });
    } finally {
      await other.close();
      await proxy.close();
    }
  }, 90_000);
});
