// Refuses a signed request seen before, in any replica and across restarts: accepted signatures are kept in
// the database (seen_signatures) for as long as they could be valid at all. Slack never re-sends a slash
// command, and every genuine command carries a fresh trigger_id (so a new signature), so a repeated
// signature inside the 5-minute window in which a signature is valid can only be a replay.
import type { Database } from '../db/database.js';
import { batched } from '../util/batch.js';

/**
 * Records each signature unless a live record of it exists, and returns those it recorded: one round trip
 * for the signatures of a batch, atomic across replicas. Each appears once (see firstSightings).
 */
const SIGHT = `
  INSERT INTO seen_signatures (signature, expires_at)
  SELECT signature, now() + make_interval(secs => $2::float8 / 1000) FROM unnest($1::text[]) AS signature
  ON CONFLICT (signature) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE seen_signatures.expires_at <= now()
  RETURNING signature`;

/** Expired records are deleted at most this often. */
const EXPIRE_EVERY_MS = 60_000;
/** Signatures per statement at most, and statements in flight at once (as for recording runs). */
const BATCH = { maxBatch: 500, maxInFlight: 2 };

export class ReplayGuard {
  private lastExpiry = 0;
  /** Under a burst of commands one statement answers all that arrived together: see util/batch.ts. */
  private readonly sight = batched((signatures: string[]) => this.firstSightings(signatures), BATCH);

  constructor(
    private readonly db: Database,
    private readonly windowMs: number,
  ) {}

  /** Records `signature`; false when it was already recorded within the window (by any replica). */
  firstSighting(signature: string): Promise<boolean> {
    return this.sight(signature);
  }

  private async firstSightings(signatures: string[]): Promise<boolean[]> {
    // One row may be inserted or updated once per statement: a signature twice in a batch is sent once, and
    // its second arrival is a replay of the first.
    const rows = await this.db.query<{ signature: string }>(SIGHT, [[...new Set(signatures)], this.windowMs]);
    if (Date.now() - this.lastExpiry > EXPIRE_EVERY_MS) {
      this.lastExpiry = Date.now();
      void this.db.execute('DELETE FROM seen_signatures WHERE expires_at <= now()').catch(() => {});
    }
    const recorded = new Set(rows.map((row) => row.signature));
    return signatures.map((signature) => recorded.delete(signature));
  }
}
