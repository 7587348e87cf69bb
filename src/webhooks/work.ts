// Webhook events are the worker's first task: one step takes the due events (rows of webhook_events),
// fetches exactly the records they name and writes them with the same upserts as a sync, through the same
// WHOOP client (token guard, budget, retries). A failed event is taken again by a later step (events.ts
// says when) and given up after a few attempts; the schedules still reconcile its record.
import type { FastifyBaseLogger } from 'fastify';
import type { Database } from '../db/database.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Resource } from '../sync/collections.js';
import { cycles, recoveries, RESOURCE_SPECS, sleeps, toRow, upsertSql, workouts, type Cycle, type Recovery, type Sleep, type Workout } from '../sync/resources.js';
import { DAY_MS } from '../util/time.js';
import type { WhoopApi } from '../whoop/api.js';
import { WhoopApiError } from '../whoop/errors.js';
import { MAX_ATTEMPTS, type PendingEvent, type WebhookEvents } from './events.js';

/** Events per step; a larger backlog takes several steps. */
const BATCH = 500;
/** A workout's cycle started at most this long before the workout (a cycle spans about a day). */
const CYCLE_LOOKBACK_MS = 2 * DAY_MS;
const DELETE = {
  sleep: ['sleeps', `DELETE FROM whoop_sleeps WHERE user_id = $1::bigint AND id = $2::uuid`],
  workout: ['workouts', `DELETE FROM whoop_workouts WHERE user_id = $1::bigint AND id = $2::uuid`],
  // A recovery is named by its sleep in webhooks.
  recovery: ['recoveries', `DELETE FROM whoop_recoveries WHERE user_id = $1::bigint AND sleep_id = $2::uuid`],
} as const;

export interface WebhookWorkOptions {
  db: Database;
  api: WhoopApi;
  events: WebhookEvents;
  metrics: Metrics;
  log: FastifyBaseLogger;
  /** Aborted when the service shuts down: events not done stay pending for the next worker. */
  signal: AbortSignal;
}

type Counts = Partial<Record<Resource, { upserted: number; deleted: number }>>;

/** The worker's webhook step: processes the due events; false when none was due. */
export async function processDueEvents(options: WebhookWorkOptions): Promise<boolean> {
  const { events, metrics, log, signal } = options;
  const due = await events.due(BATCH);
  if (due.length === 0) return false;
  const started = Date.now();
  const counts: Counts = {};
  // The latest event per record decides what happens to it: ten events for one sleep are one fetch.
  const latest = new Map<string, PendingEvent[]>();
  for (const event of due) {
    const key = `${event.userId}:${event.type.split('.')[0]}:${event.recordId.toLowerCase()}`;
    latest.set(key, [...(latest.get(key) ?? []), event]);
  }
  const members = new Map<bigint, (event: PendingEvent) => Promise<void>>();
  const succeeded: PendingEvent[] = [];
  const failed: Array<{ event: PendingEvent; error: Error }> = [];
  for (const group of latest.values()) {
    if (signal.aborted) break; // the rest stays pending: not a failure, the next worker takes it
    const event = group.at(-1)!;
    if (!members.has(event.userId)) members.set(event.userId, member(options, event.userId, counts));
    try {
      await members.get(event.userId)!(event);
      succeeded.push(...group);
    } catch (error) {
      if (!signal.aborted) failed.push(...group.map((each) => ({ event: each, error: error as Error })));
    }
  }

  if (succeeded.length > 0) {
    const committedAt = await events.done(succeeded.map((event) => event.traceId));
    for (const event of succeeded) {
      metrics.webhooks.inc({ type: event.type, outcome: 'processed' });
      metrics.webhookFreshness.observe(Math.max(0, committedAt.getTime() - event.receivedAt.getTime()) / 1000);
    }
  }
  for (const { event, error } of failed) {
    await events.failed(event.traceId, error.message);
    const givenUp = event.attempts + 1 >= MAX_ATTEMPTS;
    metrics.webhooks.inc({ type: event.type, outcome: givenUp ? 'failed' : 'retried' });
    log.error({ err: error, type: event.type, traceId: event.traceId, attempt: event.attempts + 1 }, givenUp ? 'webhook event failed for good' : 'webhook event failed; retrying later');
  }
  metrics.syncRuns.inc({ trigger: 'webhook', outcome: failed.length > 0 ? 'failed' : 'succeeded' });
  metrics.syncDuration.observe({ trigger: 'webhook' }, (Date.now() - started) / 1000);
  for (const [resource, { upserted, deleted }] of Object.entries(counts)) {
    metrics.recordsWritten.inc({ resource }, upserted);
    metrics.recordsDeleted.inc({ resource }, deleted);
  }
  log.info({ events: due.length, failed: failed.length, counts, durationMs: Date.now() - started }, 'webhook events processed');
  return true;
}

/**
 * Applies one member's events. Within a step each record is fetched at most once (a re-scored sleep usually
 * arrives with its recovery's event: one fetch).
 */
function member({ db, api }: WebhookWorkOptions, userId: bigint, counts: Counts) {
  // Starting from the stored grant, as a sync does: another process may have refreshed it.
  api.forget(userId);
  const user = userId.toString();
  const memo = new Map<string, Promise<unknown>>();
  const once = <T>(key: string, fn: () => Promise<T>): Promise<T> => {
    if (!memo.has(key)) memo.set(key, fn());
    return memo.get(key) as Promise<T>;
  };
  const count = (resource: Resource, kind: 'upserted' | 'deleted', n: number) => {
    (counts[resource] ??= { upserted: 0, deleted: 0 })[kind] += n;
  };
  const remove = async (kind: keyof typeof DELETE, id: string) => count(DELETE[kind][0], 'deleted', await db.execute(DELETE[kind][1], [user, id]));
  const upsert = async (resource: Resource, records: unknown[], sleepStarts: Map<string, string> = new Map()) => {
    const rows = records.map((record) => toRow(RESOURCE_SPECS[resource], record, sleepStarts));
    count(resource, 'upserted', await db.execute(upsertSql(RESOURCE_SPECS[resource]), [JSON.stringify(rows)]));
  };
  /** A record WHOOP answers 404 for is gone (or, for a recovery, not there yet): undefined. */
  const found = <T>(request: Promise<T>): Promise<T | undefined> =>
    request.catch((error: unknown) => {
      if (error instanceof WhoopApiError && error.status === 404) return undefined;
      throw error;
    });
  const stored = async (sql: string, value: string) =>
    (await db.query<{ id: string | null }>(sql, [user, value]))[0]?.id ?? undefined;

  /** Fetches and stores a sleep; undefined (and the stored row deleted) when WHOOP no longer has it. */
  const sleep = (id: string) =>
    once(`sleep:${id.toLowerCase()}`, async () => {
      const record = await found<Sleep>(api.one(userId, sleeps.collection, id));
      await (record ? upsert('sleeps', [record]) : remove('sleep', id));
      return record;
    });
  const recovery = (cycleId: bigint, sleep?: Sleep) =>
    once(`recovery:${cycleId}`, async () => {
      const record = await found<Recovery>(api.recoveryOfCycle(userId, recoveries.collection, cycleId));
      if (record) await upsert('recoveries', [record], sleep && new Map([[sleep.id.toLowerCase(), sleep.start]]));
    });
  const cycle = (cycleId: bigint) =>
    once(`cycle:${cycleId}`, async () => {
      const record = await found<Cycle>(api.one(userId, cycles.collection, cycleId));
      if (record) await upsert('cycles', [record]);
    });

  const updated = {
    /** A sleep re-scored re-scores its cycle's recovery too. */
    sleep: async (id: string) => {
      const record = await sleep(id);
      if (record?.cycle_id != null) await recovery(BigInt(record.cycle_id), record);
    },
    /** `id` is the recovery's sleep: its cycle names the recovery, whose strain changes too. */
    recovery: async (id: string) => {
      const known = await stored(`SELECT cycle_id::text AS id FROM whoop_sleeps WHERE user_id = $1::bigint AND id = $2::uuid`, id);
      const record = known === undefined ? await sleep(id) : undefined;
      const cycleId = known ?? record?.cycle_id;
      if (cycleId != null) await Promise.all([recovery(BigInt(cycleId), record), cycle(BigInt(cycleId))]);
    },
    workout: async (id: string) => {
      const record = await found<Workout>(api.one(userId, workouts.collection, id));
      if (!record) return remove('workout', id);
      await upsert('workouts', [record]);
      const cycleId = await stored(
        `SELECT id::text AS id FROM whoop_cycles WHERE user_id = $1::bigint AND start <= $2::timestamptz AND ("end" IS NULL OR "end" > $2::timestamptz) ORDER BY start DESC LIMIT 1`,
        record.start,
      );
      if (cycleId) return cycle(BigInt(cycleId));
      // A cycle not stored yet: the cycles that started in the days before the workout (one page).
      const start = Date.parse(record.start);
      const window = { start: new Date(start - CYCLE_LOOKBACK_MS), end: new Date(start + 1) };
      await once(`cycles-before:${start}`, async () => upsert('cycles', await api.listAll(userId, cycles.collection, window)));
    },
  };
  return (event: PendingEvent): Promise<void> => {
    const [kind, action] = event.type.split('.') as [keyof typeof DELETE, string];
    return action === 'deleted' ? remove(kind, event.recordId) : updated[kind](event.recordId);
  };
}
