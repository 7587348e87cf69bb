// webhook_events: WHOOP deliveries recorded before they are acknowledged, processed by the worker, and kept
// for a week after processing so that a redelivered trace_id is recognised. The only module that writes it.
import type { Database, SqlSession } from '../db/database.js';

export const WEBHOOK_TYPES = ['sleep.updated', 'sleep.deleted', 'workout.updated', 'workout.deleted', 'recovery.updated', 'recovery.deleted'] as const;
export type WebhookType = (typeof WEBHOOK_TYPES)[number];

export interface WebhookDelivery {
  traceId: string;
  userId: bigint;
  type: WebhookType;
  recordId: string;
}

export interface PendingEvent extends WebhookDelivery {
  receivedAt: Date;
  attempts: number;
}

/** How long processed events (and so their trace_ids) are kept: WHOOP retries for about an hour. */
const RETENTION = '7 days';
/** Attempts before an event is given up (the schedules still reconcile its record). */
export const MAX_ATTEMPTS = 8;

/**
 * One round trip on the acknowledgement path: is the member connected, and was the trace_id new? Events of
 * members without an active grant are not recorded (nothing could be fetched for them).
 */
const RECORD = `
  WITH member AS (
    SELECT EXISTS (SELECT 1 FROM whoop_tokens WHERE user_id = $2::bigint AND status = 'active') AS connected
  ), recorded AS (
    INSERT INTO webhook_events (trace_id, user_id, type, record_id)
    SELECT $1, $2::bigint, $3, $4 FROM member WHERE member.connected
    ON CONFLICT (trace_id) DO NOTHING
    RETURNING 1
  )
  SELECT member.connected, EXISTS (SELECT 1 FROM recorded) AS recorded FROM member`;

export type RecordOutcome = 'accepted' | 'duplicate' | 'not_connected';

export function webhookEvents(db: Database) {
  return {
    async record(delivery: WebhookDelivery): Promise<RecordOutcome> {
      const { traceId, userId, type, recordId } = delivery;
      const params = [traceId, userId.toString(), type, recordId];
      const [row] = await db.query<{ connected: boolean; recorded: boolean }>(RECORD, params);
      return !row?.connected ? 'not_connected' : row.recorded ? 'accepted' : 'duplicate';
    },

    /** Events due for processing, oldest first (only the worker processes them). */
    async due(limit: number): Promise<PendingEvent[]> {
      const rows = await db.query<Omit<PendingEvent, 'userId'> & { userId: string }>(
        `SELECT trace_id AS "traceId", user_id AS "userId", type, record_id AS "recordId", received_at AS "receivedAt", attempts
         FROM webhook_events WHERE status = 'pending' AND next_attempt_at <= now() ORDER BY received_at LIMIT $1`,
        [limit],
      );
      return rows.map((row) => ({ ...row, userId: BigInt(row.userId) }));
    },

    /**
     * Marks events processed and forgets those past the retention period; returns when that was committed,
     * the end of their freshness.
     */
    async done(traceIds: string[]): Promise<Date> {
      const [row] = await db.query<{ now: Date }>(
        `WITH done AS (UPDATE webhook_events SET status = 'done', processed_at = now(), error = NULL WHERE trace_id = ANY($1::text[])),
              expired AS (DELETE FROM webhook_events WHERE status <> 'pending' AND received_at < now() - interval '${RETENTION}')
         SELECT now()`,
        [traceIds],
      );
      return row!.now;
    },

    /** Schedules another attempt (5 s doubling up to an hour), or gives up after MAX_ATTEMPTS. */
    async failed(traceId: string, error: string): Promise<void> {
      await db.execute(
        `UPDATE webhook_events SET attempts = attempts + 1, error = $2,
           status = CASE WHEN attempts + 1 >= $3 THEN 'failed' ELSE 'pending' END,
           next_attempt_at = now() + make_interval(secs => least(3600, 5 * 2 ^ attempts))
         WHERE trace_id = $1`,
        [traceId, error.slice(0, 2000), MAX_ATTEMPTS],
      );
    },

    /** For /status: the backlog and the latest failure. */
    async summary() {
      const [row] = await db.query<{ pending: number; retrying: number; failed: number; lastError: string | null }>(
        `SELECT count(*) FILTER (WHERE status = 'pending')::int AS pending,
                count(*) FILTER (WHERE status = 'pending' AND attempts > 0)::int AS retrying,
                count(*) FILTER (WHERE status = 'failed')::int AS failed,
                (SELECT error FROM webhook_events WHERE error IS NOT NULL ORDER BY next_attempt_at DESC LIMIT 1) AS "lastError"
         FROM webhook_events`,
      );
      return row!;
    },
  };
}

export type WebhookEvents = ReturnType<typeof webhookEvents>;

/** Deletes the deliveries about an account (the account leaves: see src/members/forget.ts). */
export async function forgetAccountEvents(session: SqlSession, userId: bigint): Promise<number> {
  const [row] = await session.query<{ count: number }>(
    'WITH gone AS (DELETE FROM webhook_events WHERE user_id = $1::bigint RETURNING 1) SELECT count(*)::int AS count FROM gone',
    [userId.toString()],
  );
  return row!.count;
}
