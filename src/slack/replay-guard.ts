// Refuses a signed request seen before, in any replica and across restarts: accepted signatures are kept in
// the database (seen_signatures) for as long as they could be valid at all. Slack never re-sends a slash
// command, and every genuine command carries a fresh trigger_id (so a new signature), so a repeated
// signature inside the 5-minute window in which a signature is valid can only be a replay.
import type { Database } from '../db/database.js';

/**
 * Records a signature unless a live record of it exists; a row when it recorded it (atomic across replicas).
 * Committed without waiting for the disk: the command's own record, written next and committed durably, flushes
 * this one with it, so an acknowledged command's signature is as durable as the command (docs/benchmarks.md).
 */
const SIGHT = `
  INSERT INTO seen_signatures (signature, expires_at)
  SELECT $1, now() + make_interval(secs => $2::float8 / 1000)
  FROM (SELECT set_config('synchronous_commit', 'off', true)) AS asynchronous_commit
  ON CONFLICT (signature) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE seen_signatures.expires_at <= now()
  RETURNING signature`;

/** Expired records are deleted at most this often. */
const EXPIRE_EVERY_MS = 60_000;

export class ReplayGuard {
  private lastExpiry = 0;

  constructor(
    private readonly db: Database,
    private readonly windowMs: number,
  ) {}

  /** Records `signature`; false when it was already recorded within the window (by any replica). */
  async firstSighting(signature: string): Promise<boolean> {
    const rows = await this.db.query(SIGHT, [signature, this.windowMs]);
    if (Date.now() - this.lastExpiry > EXPIRE_EVERY_MS) {
      this.lastExpiry = Date.now();
      void this.db.execute('DELETE FROM seen_signatures WHERE expires_at <= now()').catch(() => {});
    }
    return rows.length === 1;
  }
}
