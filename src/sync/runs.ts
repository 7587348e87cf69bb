// sync_runs: one row per run (a request for a sync, whatever its trigger). The only module that writes it.
// Plain SQL on the driver, as every table of the worker (docs/architecture.md, "Data access").
import type { Database, SqlSession } from '../db/database.js';
import type { SyncRun as SyncRunRow } from '../generated/prisma/client.js';
import type { SyncStatus, SyncTrigger } from '../generated/prisma/enums.js';
import { DAY_MS } from '../util/time.js';
import type { TimeWindow } from '../whoop/api.js';
import { RESOURCES, type Resource } from './collections.js';

export type SyncCounts = Record<Resource, { upserted: number; deleted: number }>;

export interface SyncRequest {
  days: number;
  trigger: SyncTrigger;
  /** Slack user id, schedule name, or whoever ran the CLI. */
  requestedBy?: string | null;
  channelId?: string | null;
  responseUrl?: string | null;
}

/** A row of sync_runs (the columns of Prisma's model, as the statements below name them). */
export type SyncRun = Omit<SyncRunRow, 'counts'> & { counts: SyncCounts | null };

export const emptyCounts = () =>
  Object.fromEntries(RESOURCES.map((name) => [name, { upserted: 0, deleted: 0 }])) as SyncCounts;

const RUN = `id, trigger, requested_by AS "requestedBy", channel_id AS "channelId", response_url AS "responseUrl", days,
  window_start AS "windowStart", window_end AS "windowEnd", status, counts, accounts, error, requested_at AS "requestedAt",
  started_at AS "startedAt", finished_at AS "finishedAt", reported_at AS "reportedAt", report_error AS "reportError",
  report_attempts AS "reportAttempts", report_gave_up_at AS "reportGaveUpAt", report_next_at AS "reportNextAt",
  envelope_id AS "envelopeId"`;

/** The ack path's one statement. A Socket Mode envelope Slack sends again (same envelope_id) records nothing. */
const INSERT = `
  INSERT INTO sync_runs (trigger, days, requested_by, channel_id, response_url, envelope_id)
  VALUES ($1::sync_trigger, $2::int, $3, $4, $5, $6)
  ON CONFLICT (envelope_id) DO NOTHING
  RETURNING id`;

/**
 * Starts an execution: every waiting run (queued, or left running by a worker that died) becomes running
 * over one window ending at $1 and as long as the longest of them asks for.
 */
const START = `
  WITH waiting AS (
    SELECT id, days FROM sync_runs WHERE status IN ('queued', 'running') FOR UPDATE
  ), span AS (
    SELECT max(days) AS days FROM waiting
  )
  UPDATE sync_runs AS run
  SET status = 'running', started_at = now(), window_end = $1::timestamptz,
      window_start = $1::timestamptz - make_interval(secs => span.days * 86400), error = NULL
  FROM waiting, span
  WHERE run.id = waiting.id
  RETURNING run.id, span.days`;

/** The oldest finished run whose result message is due (Slack runs, and schedules: see the reporter). */
const DUE_RESULTS = `
  SELECT ${RUN} FROM sync_runs
  WHERE status IN ('succeeded', 'failed') AND reported_at IS NULL AND report_gave_up_at IS NULL
    AND trigger IN ('slack', 'schedule') AND (report_next_at IS NULL OR report_next_at <= now())
  ORDER BY finished_at, id LIMIT $1`;

/**
 * A refused delivery: the next attempt waits 2 s doubling to 5 min after each refusal (counted over every
 * worker), the last one at the end of the retry window, $3 ms after the run finished; a refusal from then on
 * gives the result up.
 */
const DELIVERY_FAILED = `
  UPDATE sync_runs SET report_error = $2, report_attempts = report_attempts + 1,
    report_next_at = least(now() + make_interval(secs => least(2 * power(2, least(report_attempts, 8)), 300)),
                           finished_at + $3::int * interval '1 ms'),
    report_gave_up_at = CASE WHEN finished_at + $3::int * interval '1 ms' <= now() THEN now() END
  WHERE id = $1
  RETURNING report_attempts AS attempts, report_gave_up_at IS NOT NULL AS "gaveUp"`;

export function syncRuns(db: Database) {
  const one = async (sql: string, params: unknown[]) => (await db.query<SyncRun>(sql, params))[0];
  return {
    /** Records a requested run (queued); undefined when its Socket Mode envelope was recorded before. */
    create: async (request: SyncRequest, envelopeId?: string): Promise<{ id: number } | undefined> => {
      const { trigger, days, requestedBy, channelId, responseUrl } = request;
      const params = [trigger, days, requestedBy ?? null, channelId ?? null, responseUrl ?? null, envelopeId ?? null];
      return (await db.query<{ id: number }>(INSERT, params))[0];
    },

    get: (id: number) => one(`SELECT ${RUN} FROM sync_runs WHERE id = $1`, [id]),

    /** Takes every waiting run into one execution; undefined when none waits. */
    start: async (end: Date): Promise<{ ids: number[]; days: number; window: TimeWindow } | undefined> => {
      const rows = await db.query<{ id: number; days: number }>(START, [end.toISOString()]);
      if (rows.length === 0) return undefined;
      const days = rows[0]!.days;
      const ids = rows.map((row) => row.id).sort((a, b) => a - b);
      return { ids, days, window: { start: new Date(end.getTime() - days * DAY_MS), end } };
    },

    finish: (ids: number[], status: Extract<SyncStatus, 'succeeded' | 'failed'>, counts: SyncCounts, accounts: number, error: string | undefined) =>
      db.query<SyncRun>(
        `UPDATE sync_runs SET status = $2::sync_status, counts = $3::jsonb, accounts = $4, error = $5, finished_at = now()
         WHERE id = ANY($1::int[]) RETURNING ${RUN}`,
        [ids, status, JSON.stringify(counts), accounts, error ?? null],
      ),

    /** Puts runs interrupted by shutdown back in the queue: the next worker runs them. */
    requeue: (ids: number[]) => db.execute(`UPDATE sync_runs SET status = 'queued', started_at = NULL WHERE id = ANY($1::int[])`, [ids]),

    /** The oldest finished runs whose result message is due to go out, at most `limit`. */
    dueResults: (limit: number) => db.query<SyncRun>(DUE_RESULTS, [limit]),

    /** The result message went out (or there was none to send). */
    delivered: (id: number) => db.execute(`UPDATE sync_runs SET reported_at = now(), report_error = NULL WHERE id = $1`, [id]),

    /** Delivering the result failed again: retried later, or given up `retryMs` after the run finished. */
    deliveryFailed: async (id: number, error: string, retryMs: number) =>
      (await db.query<{ attempts: number; gaveUp: boolean }>(DELIVERY_FAILED, [id, error, retryMs]))[0]!,

    /** Runs of a schedule still waiting or running (its next slot is skipped meanwhile). */
    busy: async (requestedBy: string) =>
      (await db.query(`SELECT 1 FROM sync_runs WHERE trigger = 'schedule' AND requested_by = $1 AND status IN ('queued', 'running') LIMIT 1`, [requestedBy]))
        .length > 0,

    lastSuccess: async (): Promise<Date | null> =>
      (await db.query<{ at: Date | null }>(`SELECT max(finished_at) AS at FROM sync_runs WHERE status = 'succeeded'`))[0]?.at ?? null,

    recent: (limit: number) => db.query<SyncRun>(`SELECT ${RUN} FROM sync_runs ORDER BY id DESC LIMIT $1`, [limit]),
  };
}

export type SyncRuns = ReturnType<typeof syncRuns>;

/**
 * Runs record no member, but a failed run's error can name one (`WHOOP authorization for account 123 …`):
 * when the account leaves, such errors are replaced by a sentence that names nobody.
 */
export async function redactAccountErrors(session: SqlSession, userId: bigint): Promise<number> {
  const [row] = await session.query<{ count: number }>(
    `WITH redacted AS (
       UPDATE sync_runs SET error = 'An error about a member who has since left whoop-sync (removed).'
       WHERE error ~ ('(^|[^0-9])' || $1::text || '([^0-9]|$)')
       RETURNING 1)
     SELECT count(*)::int AS count FROM redacted`,
    [userId.toString()],
  );
  return row!.count;
}
