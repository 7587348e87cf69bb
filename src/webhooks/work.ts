// Targeted work for WHOOP webhooks: fetches exactly the records a batch of recorded deliveries names and
// writes them with the same upserts as a sync, through the same WHOOP client (token guard, rate limiter,
// retries) and under the same lock, so that webhook work and sync runs never overlap in any process.
//
// Deliveries are recorded before they are acknowledged (src/webhooks/events.ts); this worker drains what is
// due: after a short gathering delay once notified (a burst for one member becomes one pass), at start-up
// (what a previous process recorded but did not finish), and when a retry falls due.
import type { FastifyBaseLogger } from 'fastify';
import type { Database } from '../db/database.js';
import type { Metrics } from '../metrics/metrics.js';
import type { WhoopApi } from '../whoop/api.js';
import { WhoopApiError } from '../whoop/errors.js';
import { InFlight } from '../util/in-flight.js';
import { MAX_ATTEMPTS, type PendingEvent, type WebhookEvents } from './events.js';
import { RESOURCES, type Resource } from '../sync/collections.js';
import { SYNC_LOCK_KEY } from '../sync/engine.js';
import {
  cycles,
  recoveries,
  sleeps,
  toRow,
  upsertSql,
  workouts,
  type Cycle,
  type Recovery,
  type ResourceSpec,
  type Sleep,
  type Workout,
} from '../sync/resources.js';

/** How long a notification waits for more deliveries before the pass starts. */
const GATHER_MS = 100;
/** Events per pass; a larger backlog takes several passes. */
const BATCH = 500;
/** Records worked on at once in a pass (the WHOOP client's rate limiter paces the requests). */
const CONCURRENCY = 8;
/** The longest the worker sleeps without looking for due events (retries, other replicas' leftovers). */
const POLL_MS = 30_000;
const FIRST_RETRY_MS = 5_000;
const LAST_RETRY_MS = 3_600_000;
const EXPIRE_EVERY_MS = 3_600_000;
/** A workout's cycle started at most this long before the workout (a cycle spans about a day). */
const CYCLE_LOOKBACK_MS = 2 * 86_400_000;

const SPECS: Record<Resource, ResourceSpec<any>> = { cycles, recoveries, sleeps, workouts };
const UPSERT = Object.fromEntries(RESOURCES.map((name) => [name, upsertSql(SPECS[name])])) as Record<Resource, string>;

const DELETE: Record<'sleep' | 'workout' | 'recovery', { resource: Resource; sql: string }> = {
  sleep: { resource: 'sleeps', sql: `DELETE FROM whoop_sleeps WHERE user_id = $1::bigint AND id = $2::uuid` },
  workout: { resource: 'workouts', sql: `DELETE FROM whoop_workouts WHERE user_id = $1::bigint AND id = $2::uuid` },
  // A recovery is named by its sleep in webhooks.
  recovery: { resource: 'recoveries', sql: `DELETE FROM whoop_recoveries WHERE user_id = $1::bigint AND sleep_id = $2::uuid` },
};

export interface WebhookWorkOptions {
  db: Database;
  api: WhoopApi;
  events: WebhookEvents;
  metrics: Metrics;
  log: FastifyBaseLogger;
  /** Aborted when the service shuts down: events in progress stay pending for the next start. */
  signal?: AbortSignal;
}

export class WebhookWork {
  private readonly inFlight = new InFlight();
  private wanted = false;
  private running = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private lastExpiry = 0;

  constructor(private readonly options: WebhookWorkOptions) {}

  /** Recorded deliveries may be due: a pass starts shortly (one pass serves everything recorded by then). */
  notify(): void {
    if (this.stopped) return;
    this.wanted = true;
    if (this.running) return;
    this.running = true;
    void this.inFlight.track(this.loop());
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  idle(timeoutMs: number): Promise<boolean> {
    return this.inFlight.idle(timeoutMs);
  }

  private async loop(): Promise<void> {
    try {
      while (this.wanted && !this.stopped) {
        this.wanted = false;
        await new Promise((resolve) => setTimeout(resolve, GATHER_MS));
        try {
          // A full batch: more are waiting.
          if ((await this.options.db.withLock(SYNC_LOCK_KEY, () => this.pass())) >= BATCH) this.wanted = true;
        } catch (error) {
          this.options.log.error({ err: error }, 'webhook events could not be processed; retrying later');
        }
      }
    } finally {
      this.running = false;
      if (this.wanted && !this.stopped) this.notify();
      else await this.scheduleNext();
    }
  }

  /** Wakes up when the next retry is due, or after POLL_MS at the latest. */
  private async scheduleNext(): Promise<void> {
    if (this.stopped) return;
    const next = await this.options.events.nextDue().catch(() => undefined);
    const delay = next ? Math.min(POLL_MS, Math.max(0, next.getTime() - Date.now())) : POLL_MS;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.notify(), delay).unref();
  }

  /** One pass over the due events; the number taken. */
  private async pass(): Promise<number> {
    const { events, metrics, log, signal } = this.options;
    if (Date.now() - this.lastExpiry > EXPIRE_EVERY_MS) {
      this.lastExpiry = Date.now();
      await events.expire();
    }
    const due = await events.due(BATCH);
    if (due.length === 0) return 0;
    const started = Date.now();
    const counts = new Map<Resource, { upserted: number; deleted: number }>();
    const count = (resource: Resource, kind: 'upserted' | 'deleted', n: number) => {
      const entry = counts.get(resource) ?? { upserted: 0, deleted: 0 };
      entry[kind] += n;
      counts.set(resource, entry);
    };

    const byMember = new Map<bigint, PendingEvent[]>();
    for (const event of due) byMember.set(event.userId, [...(byMember.get(event.userId) ?? []), event]);
    const results = await Promise.all(
      [...byMember].map(([userId, memberEvents]) => new MemberPass(this.options, userId, count).run(memberEvents)),
    );

    const succeeded = results.flatMap((r) => r.succeeded);
    const failed = results.flatMap((r) => r.failed);
    if (succeeded.length > 0) {
      const committedAt = await events.done(succeeded.map((event) => event.traceId));
      for (const event of succeeded) {
        metrics.webhooks.inc({ type: event.type, outcome: 'processed' });
        metrics.webhookFreshness.observe(Math.max(0, committedAt.getTime() - event.receivedAt.getTime()) / 1000);
      }
    }
    // Interrupted by shutdown: not a failure, the next start takes them again.
    const interrupted = signal?.aborted === true;
    for (const { event, error } of interrupted ? [] : failed) {
      const delay = Math.min(LAST_RETRY_MS, FIRST_RETRY_MS * 2 ** event.attempts) * (0.75 + Math.random() / 2);
      await events.failed([event.traceId], error.message, delay);
      const givenUp = event.attempts + 1 >= MAX_ATTEMPTS;
      metrics.webhooks.inc({ type: event.type, outcome: givenUp ? 'failed' : 'retried' });
      log.error({ err: error, type: event.type, traceId: event.traceId, attempt: event.attempts + 1 }, givenUp ? 'webhook event failed for good' : 'webhook event failed; retrying later');
    }

    const outcome = failed.length > 0 && !interrupted ? 'failed' : 'succeeded';
    metrics.syncRuns.inc({ trigger: 'webhook', outcome });
    metrics.syncDuration.observe({ trigger: 'webhook' }, (Date.now() - started) / 1000);
    for (const [resource, { upserted, deleted }] of counts) {
      metrics.recordsWritten.inc({ resource }, upserted);
      metrics.recordsDeleted.inc({ resource }, deleted);
    }
    log.info({ events: due.length, failed: failed.length, counts: Object.fromEntries(counts), durationMs: Date.now() - started }, 'webhook events processed');
    return due.length;
  }
}

type Count = (resource: Resource, kind: 'upserted' | 'deleted', n: number) => void;

/**
 * The events of one member in one pass. The latest event per record decides what happens to it, and each
 * record is fetched at most once (a re-scored sleep usually arrives with its recovery's event: one fetch).
 */
class MemberPass {
  private readonly fetched = new Map<string, Promise<unknown>>();

  constructor(
    private readonly options: WebhookWorkOptions,
    private readonly userId: bigint,
    private readonly count: Count,
  ) {}

  async run(
    events: PendingEvent[],
  ): Promise<{ succeeded: PendingEvent[]; failed: Array<{ event: PendingEvent; error: Error }> }> {
    const latest = new Map<string, PendingEvent[]>();
    for (const event of events) {
      const key = `${event.type.split('.')[0]}:${event.recordId.toLowerCase()}`;
      latest.set(key, [...(latest.get(key) ?? []), event]);
    }
    // Starting from the stored grant, as a sync does: another process may have refreshed it.
    this.options.api.forget(this.userId);
    const succeeded: PendingEvent[] = [];
    const failed: Array<{ event: PendingEvent; error: Error }> = [];
    const groups = [...latest.values()];
    const work = async () => {
      for (let group = groups.shift(); group; group = groups.shift()) {
        try {
          await this.apply(group.at(-1)!);
          succeeded.push(...group);
        } catch (error) {
          for (const event of group) failed.push({ event, error: error as Error });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, groups.length) }, work));
    return { succeeded, failed };
  }

  private async apply(event: PendingEvent): Promise<void> {
    const [kind, action] = event.type.split('.') as ['sleep' | 'workout' | 'recovery', 'updated' | 'deleted'];
    if (action === 'deleted') return this.remove(kind, event.recordId);
    if (kind === 'sleep') return this.sleepUpdated(event.recordId);
    if (kind === 'recovery') return this.recoveryUpdated(event.recordId);
    return this.workoutUpdated(event.recordId);
  }

  /** A sleep re-scored re-scores its cycle's recovery too. */
  private async sleepUpdated(sleepId: string): Promise<void> {
    const sleep = await this.sleep(sleepId);
    if (!sleep) return;
    if (sleep.cycle_id != null) await this.recovery(BigInt(sleep.cycle_id), sleep);
  }

  /** `id` is the recovery's sleep: its cycle names the recovery, whose strain changes too. */
  private async recoveryUpdated(sleepId: string): Promise<void> {
    const [stored] = await this.options.db.query<{ cycle_id: string | null }>(`SELECT cycle_id FROM whoop_sleeps WHERE user_id = $1::bigint AND id = $2::uuid`, [
      this.userId.toString(),
      sleepId,
    ]);
    let cycleId = stored?.cycle_id != null ? BigInt(stored.cycle_id) : undefined;
    let sleep: Sleep | undefined;
    if (cycleId === undefined) {
      sleep = await this.sleep(sleepId);
      if (sleep?.cycle_id == null) return;
      cycleId = BigInt(sleep.cycle_id);
    }
    await Promise.all([this.recovery(cycleId, sleep), this.cycle(cycleId)]);
  }

  private async workoutUpdated(workoutId: string): Promise<void> {
    const workout = await this.once<Workout | undefined>(`workout:${workoutId}`, () => this.fetch(this.options.api.one(this.userId, workouts.collection, workoutId)));
    if (!workout) return this.remove('workout', workoutId);
    await this.upsert('workouts', [workout]);
    const [stored] = await this.options.db.query<{ id: string }>(
      `SELECT id FROM whoop_cycles WHERE user_id = $1::bigint AND start <= $2::timestamptz AND ("end" IS NULL OR "end" > $2::timestamptz) ORDER BY start DESC LIMIT 1`,
      [this.userId.toString(), workout.start],
    );
    if (stored) return this.cycle(BigInt(stored.id));
    // A cycle not stored yet: the cycles that started in the days before the workout (one page).
    const start = Date.parse(workout.start);
    await this.once(`cycles-before:${start}`, async () => {
      const listed = await this.options.api.listAll(this.userId, cycles.collection, {
        start: new Date(start - CYCLE_LOOKBACK_MS),
        end: new Date(start + 1),
      });
      await this.upsert('cycles', listed);
    });
  }

  /** Fetches and stores a sleep; undefined (and the stored row deleted) when WHOOP no longer has it. */
  private sleep(sleepId: string): Promise<Sleep | undefined> {
    return this.once(`sleep:${sleepId.toLowerCase()}`, async () => {
      const sleep = await this.fetch(this.options.api.one(this.userId, sleeps.collection, sleepId));
      if (!sleep) await this.remove('sleep', sleepId);
      else await this.upsert('sleeps', [sleep]);
      return sleep;
    });
  }

  /** Fetches and stores a cycle's recovery; nothing when WHOOP has none (yet). */
  private recovery(cycleId: bigint, sleep: Sleep | undefined): Promise<void> {
    return this.once(`recovery:${cycleId}`, async () => {
      const { api } = this.options;
      const recovery = await this.fetch<Recovery>(api.recoveryOfCycle(this.userId, recoveries.collection, cycleId));
      if (recovery) await this.upsert('recoveries', [recovery], sleep ? new Map([[sleep.id.toLowerCase(), sleep.start]]) : undefined);
    });
  }

  private cycle(cycleId: bigint): Promise<void> {
    return this.once(`cycle:${cycleId}`, async () => {
      const cycle = await this.fetch<Cycle>(this.options.api.one(this.userId, cycles.collection, cycleId));
      if (cycle) await this.upsert('cycles', [cycle]);
    });
  }

  private async remove(kind: keyof typeof DELETE, recordId: string): Promise<void> {
    const { resource, sql } = DELETE[kind];
    this.count(resource, 'deleted', await this.options.db.execute(sql, [this.userId.toString(), recordId]));
  }

  private async upsert(
    resource: Resource,
    records: unknown[],
    sleepStarts: ReadonlyMap<string, string> = NO_SLEEPS,
  ): Promise<void> {
    const spec = SPECS[resource];
    const rows = records.map((record) => toRow(spec, record, sleepStarts));
    this.count(resource, 'upserted', await this.options.db.execute(UPSERT[resource], [JSON.stringify(rows)]));
  }

  /** A record WHOOP answers 404 for is gone (or, for a recovery, not there yet): undefined. */
  private async fetch<T>(request: Promise<T>): Promise<T | undefined> {
    try {
      return await request;
    } catch (error) {
      if (error instanceof WhoopApiError && error.status === 404) return undefined;
      throw error;
    }
  }

  private once<T>(key: string, fn: () => Promise<T>): Promise<T> {
    let promise = this.fetched.get(key) as Promise<T> | undefined;
    if (!promise) {
      promise = fn();
      this.fetched.set(key, promise);
    }
    return promise;
  }
}

const NO_SLEEPS: ReadonlyMap<string, string> = new Map();
