// Data access for sync_runs (one row per sync, whatever triggered it) and sync_workers (the processes
// moving runs on): the only module that writes either. See docs/architecture.md for the states.
import type { Database } from '../db/database.js';
import type { SyncStatus, SyncTrigger } from '../generated/prisma/enums.js';
import type { Resource } from './collections.js';
import { batched } from '../util/batch.js';

interface ResourceCounts {
  upserted: number;
  deleted: number;
}
export type SyncCounts = Record<Resource, ResourceCounts>;

export interface SyncRequest {
  days: number;
  trigger: SyncTrigger;
  /** Slack user id, schedule name, or whoever ran the CLI. */
  requestedBy?: string | null;
  channelId?: string | null;
  responseUrl?: string | null;
}

/** A run just recorded (status queued). */
export interface RecordedRun {
  id: number;
}

export type SyncRun = NonNullable<Awaited<ReturnType<Database['prisma']['syncRun']['findUnique']>>>;

export function emptyCounts(): SyncCounts {
  return {
    cycles: { upserted: 0, deleted: 0 },
    recoveries: { upserted: 0, deleted: 0 },
    sleeps: { upserted: 0, deleted: 0 },
    workouts: { upserted: 0, deleted: 0 },
  };
}

/** Rows per INSERT when many requests arrive at once. */
const MAX_BATCH = 500;
/** INSERTs in flight at once: requests arriving meanwhile wait for the next one (group commit). */
const MAX_FLUSHES = 2;

const DAY_MS = 86_400_000;

/** Ids per statement when many runs finish at once: far below Postgres' 65,535 bind parameters. */
const IDS_PER_STATEMENT = 10_000;

function* chunks(ids: number[]): Generator<number[]> {
  for (let i = 0; i < ids.length; i += IDS_PER_STATEMENT) yield ids.slice(i, i + IDS_PER_STATEMENT);
}

/**
 * Takes run $1 and every queued run, locking them so no other process takes them too; the window ends at
 * $2 and spans the most days any of them asked for (in exact seconds, whatever the session's time zone).
 * The taking worker $3 becomes their owner: it finishes them and delivers their results. Runs it started
 * but did not finish (an attempt the database broke off) are taken again: one execution at a time per worker.
 */
const START_WITH_QUEUED = `
  WITH picked AS (
    SELECT id, days FROM sync_runs WHERE id = $1 OR status = 'queued' OR (status = 'running' AND owner = $3) FOR UPDATE
  ), span AS (
    SELECT max(days) AS days FROM picked
  )
  UPDATE sync_runs AS run
  SET status = 'running', started_at = now(), owner = $3, window_end = $2::timestamptz,
      window_start = $2::timestamptz - make_interval(secs => span.days * 86400), error = NULL
  FROM picked, span
  WHERE run.id = picked.id
  RETURNING run.id, span.days`;

const RUN_COLUMNS = 5;
/** A worker whose heartbeat is older than this is gone: its runs and results are adopted by a live one. */
const WORKER_EXPIRY_SECONDS = 15;

/**
 * Inserts a few requested runs. A VALUES list is the cheapest statement for the usual batch of one (less
 * planning than unnest()); its cost grows with every row, so large batches use INSERT_MANY_RUNS.
 */
const insertFewRuns = (rows: number) =>
  `INSERT INTO sync_runs (trigger, days, requested_by, channel_id, response_url, owner) VALUES ${Array.from({ length: rows }, (_, row) => {
    const n = row * RUN_COLUMNS + 1;
    return `($${n + 1}::sync_trigger, $${n + 2}::int, $${n + 3}, $${n + 4}, $${n + 5}, $1)`;
  }).join(', ')} RETURNING id`;
/** Batches up to this size use a VALUES list, cheaper than unnest() for a few rows (docs/benchmarks.md). */
const FEW_RUNS = 8;
/** INSERT_FEW_RUNS[n - 1] inserts n runs. */
const INSERT_FEW_RUNS = Array.from({ length: FEW_RUNS }, (_, index) => insertFewRuns(index + 1));

/** Inserts many requested runs with one statement, numbering them in the order given. */
const INSERT_MANY_RUNS = `
  INSERT INTO sync_runs (trigger, days, requested_by, channel_id, response_url, owner)
  SELECT trigger::sync_trigger, days, requested_by, channel_id, response_url, $6
  FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[])
    WITH ORDINALITY AS requested(trigger, days, requested_by, channel_id, response_url, position)
  ORDER BY position
  RETURNING id`;

/**
 * Records a run asked for by a Socket Mode envelope, unless that envelope was recorded before: Slack
 * sends an envelope again, with the same envelope_id, when its ack did not arrive. Returns no row then.
 */
const INSERT_ENVELOPE_RUN = `
  INSERT INTO sync_runs (trigger, days, requested_by, channel_id, response_url, envelope_id)
  VALUES ($1::sync_trigger, $2::int, $3, $4, $5, $6)
  ON CONFLICT (envelope_id) DO NOTHING
  RETURNING id`;

/**
 * Records requested runs, writing the requests that arrive while earlier writes are in flight with one
 * INSERT … RETURNING (util/batch.ts). With the replay check, batched the same way, this is the ack path's
 * database work: under a burst of /sync commands it costs one round trip per batch instead of one per
 * request, holds at most two connections, and a single request waits for nothing. It goes to the driver
 * directly: through the Prisma client, building the statement cost more CPU per request than everything
 * else on the ack path together.
 */
function runRecorder(db: Database, owner: string): (request: SyncRequest) => Promise<RecordedRun> {
  return batched(
    async (requests: SyncRequest[]) => {
      const rows =
        requests.length <= FEW_RUNS
          ? await db.query<{ id: number }>(INSERT_FEW_RUNS[requests.length - 1]!, [
              owner,
              ...requests.flatMap((request) => [
                request.trigger,
                request.days,
                request.requestedBy ?? null,
                request.channelId ?? null,
                request.responseUrl ?? null,
              ]),
            ])
          : await db.query<{ id: number }>(INSERT_MANY_RUNS, [
              requests.map((request) => request.trigger),
              requests.map((request) => request.days),
              requests.map((request) => request.requestedBy ?? null),
              requests.map((request) => request.channelId ?? null),
              requests.map((request) => request.responseUrl ?? null),
              owner,
            ]);
      // Ids are drawn in the order of the rows inserted, which is the order of the batch.
      return rows.map((row) => ({ id: Number(row.id) })).sort((a, b) => a.id - b.id);
    },
    { maxBatch: MAX_BATCH, maxInFlight: MAX_FLUSHES },
  );
}

/** A run whose result has a message to deliver (schedules only with a report channel; see the reporter). */
const REPORTED_TRIGGERS = `trigger IN ('slack', 'schedule')`;

/**
 * Makes worker $1 the owner of the runs, since $2, whose owner is gone (no heartbeat for
 * WORKER_EXPIRY_SECONDS) or unknown, and that still need work: unfinished runs go back to the queue (so
 * the runs an execution had joined resume as one execution again), finished ones wait for their message.
 */
const ADOPT = `
  UPDATE sync_runs AS run
  SET owner = $1,
      status = CASE WHEN run.status = 'running' THEN 'queued'::sync_status ELSE run.status END,
      started_at = CASE WHEN run.status = 'running' THEN NULL ELSE run.started_at END
  WHERE run.requested_at >= $2::timestamptz
    AND (run.status IN ('queued', 'running')
         OR (run.reported_at IS NULL AND run.report_gave_up_at IS NULL AND run.${REPORTED_TRIGGERS}))
    AND run.owner IS DISTINCT FROM $1
    AND NOT EXISTS (
      SELECT 1 FROM sync_workers AS worker
      WHERE worker.id = run.owner AND worker.heartbeat_at > now() - make_interval(secs => ${WORKER_EXPIRY_SECONDS})
    )
  RETURNING run.id, run.status::text AS status`;

/**
 * Runs of worker $1 since $2 still queued or running, recorded more than $3 seconds ago: when the worker
 * has nothing queued or executing, nothing moves them on (see RunDispatcher.resumeOwn).
 */
const UNMOVED = `
  SELECT id FROM sync_runs
  WHERE owner = $1 AND status IN ('queued', 'running') AND requested_at >= $2::timestamptz
    AND requested_at < now() - make_interval(secs => $3)
  ORDER BY id`;

const HEARTBEAT = `INSERT INTO sync_workers (id) VALUES ($1) ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()`;

export function syncRuns(db: Database, owner: string) {
  const { prisma } = db;
  return {
    /** This process's worker id: the owner of the runs it records, executes or adopts. */
    owner,

    /** Records a requested run (status queued), owned by this worker. */
    create: runRecorder(db, owner),

    /**
     * Records a run for a Socket Mode envelope; undefined when the envelope was already recorded (by this
     * process or another one sharing the database, before or after a restart), so it starts no second run.
     */
    createForEnvelope: async (request: SyncRequest, envelopeId: string): Promise<RecordedRun | undefined> => {
      const rows = await db.query<{ id: number }>(INSERT_ENVELOPE_RUN, [
        request.trigger,
        request.days,
        request.requestedBy ?? null,
        request.channelId ?? null,
        request.responseUrl ?? null,
        envelopeId,
      ]);
      return rows[0] ? { id: Number(rows[0].id) } : undefined;
    },

    get: (id: number) => prisma.syncRun.findUnique({ where: { id } }),

    /**
     * Marks a run and every other run still waiting in the queue as running over one window ending at
     * `end` and as long as the longest of them asks for: one WHOOP sync serves them all. One statement
     * with no list of ids, so a queue of any length (a flood of commands) costs the same.
     */
    startWithQueued: async (
      id: number,
      end: Date,
    ): Promise<{ ids: number[]; days: number; window: { start: Date; end: Date } }> => {
      const rows = await db.query<{ id: number; days: number }>(START_WITH_QUEUED, [id, end.toISOString(), owner]);
      if (rows.length === 0) throw new Error(`Sync run ${id} does not exist`);
      const days = Number(rows[0]!.days);
      return {
        ids: rows.map((row) => Number(row.id)).sort((a, b) => a - b),
        days,
        window: { start: new Date(end.getTime() - days * DAY_MS), end },
      };
    },

    finish: async (ids: number[], status: Extract<SyncStatus, 'succeeded' | 'failed'>, counts: SyncCounts, accounts: number, error: string | undefined) => {
      const finishedAt = new Date();
      const finished: SyncRun[] = [];
      for (const chunk of chunks(ids)) {
        finished.push(
          ...(await prisma.syncRun.updateManyAndReturn({
            where: { id: { in: chunk } },
            data: { status, counts: counts as object, accounts, error: error ?? null, finishedAt },
          })),
        );
      }
      return finished;
    },

    /** Puts runs interrupted by shutdown back in the queue, to be run again at the next start. */
    requeue: async (ids: number[]) => {
      for (const chunk of chunks(ids)) await prisma.syncRun.updateMany({ where: { id: { in: chunk } }, data: { status: 'queued', startedAt: null } });
    },

    /** Adopts the runs of workers that are gone (see ADOPT): the queued ones, and the finished ones still to report. */
    adopt: async (since: Date): Promise<{ queued: number[]; unreported: SyncRun[] }> => {
      const rows = await db.query<{ id: number; status: SyncStatus }>(ADOPT, [owner, since.toISOString()]);
      const finished = rows.filter((row) => row.status === 'succeeded' || row.status === 'failed').map((row) => Number(row.id));
      const unreported: SyncRun[] = [];
      for (const chunk of chunks(finished)) unreported.push(...(await prisma.syncRun.findMany({ where: { id: { in: chunk } }, orderBy: { id: 'asc' } })));
      return { queued: rows.filter((row) => row.status === 'queued').map((row) => Number(row.id)).sort((a, b) => a - b), unreported };
    },

    /** This worker's unfinished runs recorded between `since` and `graceSeconds` ago (see UNMOVED). */
    unmoved: async (since: Date, graceSeconds: number): Promise<number[]> =>
      (await db.query<{ id: number }>(UNMOVED, [owner, since.toISOString(), graceSeconds]))
        .map((row) => Number(row.id)),

    /** The result message went out (or there was none to send). */
    reported: (id: number) =>
      prisma.syncRun.updateMany({ where: { id }, data: { reportedAt: new Date(), reportError: null } }),

    /** Delivering the result failed again; returns the attempts so far. */
    reportFailed: async (id: number, error: string) =>
      (
        await prisma.syncRun.update({
          where: { id },
          data: { reportError: error, reportAttempts: { increment: 1 } },
          select: { reportAttempts: true },
        })
      ).reportAttempts,

    /** Delivering the result is given up for good; report_error keeps the last reason. */
    reportGaveUp: (id: number, error: string) =>
      prisma.syncRun.updateMany({ where: { id }, data: { reportError: error, reportGaveUpAt: new Date() } }),

    /**
     * Announces this worker, so that its runs are not adopted while it lives, and forgets workers gone for
     * a day. On a database no other process can be using, every other worker is gone, so their runs are
     * adopted at once instead of after the heartbeat expiry.
     */
    register: async () => {
      const gone = db.exclusive ? { id: { not: owner } } : { heartbeatAt: { lt: new Date(Date.now() - DAY_MS) } };
      await prisma.syncWorker.deleteMany({ where: gone });
      await db.execute(HEARTBEAT, [owner]);
    },
    heartbeat: () => db.execute(HEARTBEAT, [owner]),
    /** A clean stop: what this worker still owns is adopted by the next live worker at once. */
    retire: () => prisma.syncWorker.deleteMany({ where: { id: owner } }),

    recent: (limit: number) => prisma.syncRun.findMany({ orderBy: { id: 'desc' }, take: limit }),
  };
}

export type SyncRuns = ReturnType<typeof syncRuns>;
