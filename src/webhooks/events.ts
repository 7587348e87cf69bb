// Data access for webhook_events: WHOOP deliveries recorded before they are acknowledged, claimed by the
// webhook worker, and kept for a week after processing so that a redelivered trace_id is recognised.
import type { Database } from '../db/database.js';

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
      const [row] = await db.query<{ connected: boolean; recorded: boolean }>(RECORD, [
        delivery.traceId,
        delivery.userId.toString(),
        delivery.type,
        delivery.recordId,
      ]);
      if (!row?.connected) return 'not_connected';
      return row.recorded ? 'accepted' : 'duplicate';
    },

    /** Events due for processing, oldest first. Call under the sync lock: nobody else claims them meanwhile. */
    async due(limit: number): Promise<PendingEvent[]> {
      const rows = await db.query<{
        trace_id: string;
        user_id: string;
        type: WebhookType;
        record_id: string;
        received_at: Date;
        attempts: number;
      }>(
        `SELECT trace_id, user_id, type, record_id, received_at, attempts FROM webhook_events
         WHERE status = 'pending' AND next_attempt_at <= now() ORDER BY received_at LIMIT $1`,
        [limit],
      );
      return rows.map((row) => ({
        traceId: row.trace_id,
        userId: BigInt(row.user_id),
        type: row.type,
        recordId: row.record_id,
        receivedAt: row.received_at,
        attempts: row.attempts,
      }));
    },

    /** Marks events processed; returns when that was committed, the end of their freshness. */
    async done(traceIds: string[]): Promise<Date> {
      const [row] = await db.query<{ now: Date }>(
        `WITH done AS (UPDATE webhook_events SET status = 'done', processed_at = now(), error = NULL WHERE trace_id = ANY($1::text[]))
         SELECT now()`,
        [traceIds],
      );
      return row!.now;
    },

    /** Schedules another attempt after `delayMs`, or gives up after MAX_ATTEMPTS. */
    async failed(traceIds: string[], error: string, delayMs: number): Promise<void> {
      await db.execute(
        `UPDATE webhook_events SET attempts = attempts + 1, error = $2,
           status = CASE WHEN attempts + 1 >= $4 THEN 'failed' ELSE 'pending' END,
           next_attempt_at = now() + make_interval(secs => $3::float8 / 1000)
         WHERE trace_id = ANY($1::text[])`,
        [traceIds, error.slice(0, 2000), delayMs, MAX_ATTEMPTS],
      );
    },

    /** When the next pending event is due, if any. */
    async nextDue(): Promise<Date | undefined> {
      const [row] = await db.query<{ at: Date | null }>(`SELECT min(next_attempt_at) AS at FROM webhook_events WHERE status = 'pending'`);
      return row?.at ?? undefined;
    },

    /** Forgets processed events past the retention period. */
    expire: () => db.execute(`DELETE FROM webhook_events WHERE status <> 'pending' AND received_at < now() - interval '${RETENTION}'`),

    /** For /status: the backlog and the latest failure. */
    async summary() {
      const [row] = await db.query<{ pending: string; retrying: string; failed: string; last_error: string | null }>(
        `SELECT count(*) FILTER (WHERE status = 'pending') AS pending,
                count(*) FILTER (WHERE status = 'pending' AND attempts > 0) AS retrying,
                count(*) FILTER (WHERE status = 'failed') AS failed,
                (SELECT error FROM webhook_events WHERE error IS NOT NULL ORDER BY next_attempt_at DESC LIMIT 1) AS last_error
         FROM webhook_events`,
      );
      return {
        pending: Number(row?.pending ?? 0),
        retrying: Number(row?.retrying ?? 0),
        failed: Number(row?.failed ?? 0),
        lastError: row?.last_error ?? null,
      };
    },
  };
}

export type WebhookEvents = ReturnType<typeof webhookEvents>;
