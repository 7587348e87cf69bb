// Benchmark 4, webhook freshness: from a WHOOP webhook's arrival to its change being committed, over a few
// hundred signed deliveries (alternately a re-scored sleep and a changed workout) from the fake WHOOP,
// which answers every request after a fixed latency and enforces WHOOP's 100 requests/minute. Deliveries
// are paced to stay within that budget (each costs about two requests), as a real app's share of it would.
// Arrival and commit are the service's own timestamps (webhook_events.received_at and processed_at,
// set after the record's upsert committed). The comparison is the same change picked up by the next
// scheduled sync under the default schedules (08:00 and 13:00), for changes spread evenly over a week,
// plus the measured duration of the schedule's 3-day sync.
import { Cron } from 'croner';
import { DEFAULT_SCHEDULES, parseSchedules, type Schedule } from '../../src/config/config.js';
import { startBenchEnvironment } from './environment.js';
import { onCleanup, percentile, round, sleep } from './util.js';

export interface FreshnessOptions {
  events: number;
  /** Deliveries per second. */
  rate: number;
  latencyMs: number;
  perMinute: number;
  targetP99Seconds: number;
}

export interface FreshnessResult {
  events: number;
  webhook: { p50: number; p99: number; max: number };
  schedule: { p50: number; p99: number; syncSeconds: number };
  met: boolean;
  problems: string[];
}

export async function freshnessBenchmark(
  options: FreshnessOptions,
  progress: (line: string) => void,
): Promise<FreshnessResult> {
  const problems: string[] = [];
  const env = await startBenchEnvironment({
    whoop: { latencyMs: options.latencyMs, rateLimit: { perMinute: options.perMinute } },
    generate: { days: 60, workoutsPerDay: 1 },
  });
  const release = onCleanup('freshness environment', () => env.close());
  try {
    const userId = env.member.user_id;
    const sleeps = env.whoop.data.sleeps.filter((s) => s.user_id === userId && s.score);
    const workouts = env.whoop.data.workouts.filter((w) => w.user_id === userId && w.score);
    const url = `${env.app.url}/webhooks/whoop`;
    progress(`freshness: ${options.events} webhooks at ${options.rate}/s, WHOOP latency ${options.latencyMs} ms`);
    const deliveries: Array<Promise<unknown>> = [];
    const started = Date.now();
    for (let i = 0; i < options.events; i++) {
      const due = started + (i * 1000) / options.rate;
      if (due > Date.now()) await sleep(due - Date.now());
      const updatedAt = new Date().toISOString();
      if (i % 2 === 0) {
        const sleepRecord = sleeps[(i / 2) % sleeps.length]!;
        sleepRecord.score = { ...sleepRecord.score!, respiratory_rate: 10 + i / 1000 };
        sleepRecord.updated_at = updatedAt;
        deliveries.push(env.whoop.deliverWebhook(url, { user_id: userId, id: sleepRecord.id, type: 'sleep.updated' }, { retryDelaysMs: [] }));
      } else {
        const workout = workouts[((i - 1) / 2) % workouts.length]!;
        workout.score = { ...workout.score!, strain: 5 + i / 1000 };
        workout.updated_at = updatedAt;
        deliveries.push(env.whoop.deliverWebhook(url, { user_id: userId, id: workout.id, type: 'workout.updated' }, { retryDelaysMs: [] }));
      }
    }
    const results = (await Promise.all(deliveries)) as Array<{ delivered: boolean }>;
    const refused = results.filter((r) => !r.delivered).length;
    if (refused > 0) problems.push(`freshness: ${refused} deliveries were not acknowledged`);
    const db = env.app.app.db;
    const deadline = Date.now() + 120_000;
    const pending = async () => Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM webhook_events WHERE status = 'pending'`))[0]!.n);
    while ((await pending()) > 0 && Date.now() < deadline) await sleep(100);
    const rows = await db.query<{ seconds: number; status: string }>(
      `SELECT status, extract(epoch FROM processed_at - received_at)::float8 AS seconds FROM webhook_events`,
    );
    const done = rows.filter((r) => r.status === 'done').map((r) => Number(r.seconds)).sort((a, b) => a - b);
    if (done.length !== options.events) problems.push(`freshness: ${done.length} of ${options.events} events were processed`);

    // The schedule's own sync, timed once.
    const sync = await env.app.app.sync.syncAll({ days: 3, trigger: 'schedule', requestedBy: 'bench' });
    const syncSeconds = sync.durationMs / 1000;
    const waits = scheduleWaits(parseSchedules(DEFAULT_SCHEDULES) as Schedule[])
      .map((w) => w + syncSeconds)
      .sort((a, b) => a - b);

    const webhook = {
      p50: round(percentile(done, 50), 3),
      p99: round(percentile(done, 99), 3),
      max: round(done.at(-1) ?? NaN, 3),
    };
    return {
      events: options.events,
      webhook,
      schedule: {
        p50: round(percentile(waits, 50)),
        p99: round(percentile(waits, 99)),
        syncSeconds: round(syncSeconds, 3),
      },
      met: webhook.p99 <= options.targetP99Seconds,
      problems,
    };
  } finally {
    await release();
  }
}

/** Seconds from a change to the next scheduled run, for changes every 5 minutes over a week (UTC). */
function scheduleWaits(schedules: Schedule[]): number[] {
  const crons = schedules.map((s) => new Cron(s.cron, { paused: true, timezone: 'UTC' }));
  const start = Date.UTC(2026, 10, 30);
  const waits: number[] = [];
  for (let t = start; t < start + 7 * 86_400_000; t += 300_000) {
    const next = Math.min(...crons.map((cron) => cron.nextRun(new Date(t))!.getTime()));
    waits.push((next - t) / 1000);
  }
  for (const cron of crons) cron.stop();
  return waits;
}
