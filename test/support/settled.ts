// Waiting for the worker (whichever process holds its lock) to finish what was recorded: no run waiting or
// running, no result message still to deliver, no webhook event due.
import type { Database } from '../../src/db/database.js';
import { until } from './until.js';

const BUSY = `
  SELECT (SELECT count(*) FROM sync_runs
          WHERE status IN ('queued', 'running')
             OR (reported_at IS NULL AND report_gave_up_at IS NULL AND trigger IN ('slack', 'schedule'))) +
         (SELECT count(*) FROM webhook_events WHERE status = 'pending' AND next_attempt_at <= now()) AS busy`;

export async function settled(db: Database, timeoutMs = 30_000): Promise<void> {
  await until(async () => Number((await db.query<{ busy: string }>(BUSY))[0]!.busy) === 0, 'the worker to settle', timeoutMs);
}

/**
 * Waiting for every connected member's whole-history backfill (src/sync/backfill.ts) to be stored and
 * announced: tests that count WHOOP requests or Slack messages after connecting wait for it first.
 */
export async function historyFetched(db: Database, timeoutMs = 60_000): Promise<void> {
  await until(
    async () => {
      const [row] = await db.query<{ waiting: string }>(
        `SELECT (SELECT count(*) FROM backfill_progress b JOIN whoop_tokens t USING (user_id)
                 WHERE t.status = 'active' AND (b.completed_at IS NULL OR b.announced_at IS NULL)) +
                (SELECT count(*) FROM whoop_tokens t WHERE t.status = 'active'
                 AND NOT EXISTS (SELECT 1 FROM backfill_progress b WHERE b.user_id = t.user_id)) AS waiting`,
      );
      return Number(row!.waiting) === 0;
    },
    'every history to be fetched',
    timeoutMs,
  );
}
