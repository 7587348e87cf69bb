// Refuses a signed request seen before. Slack never re-sends a slash command, and every genuine command
// carries a fresh trigger_id (so a new signature), so a repeated signature inside the 5-minute window in
// which a signature is valid at all can only be a replay.
export class ReplayGuard {
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly windowMs: number,
    /** Bounds memory under a flood; the oldest entries go first. */
    private readonly maxEntries = 50_000,
  ) {}

  /** Records `signature`; false when it was already recorded within the window. */
  firstSighting(signature: string, now = Date.now()): boolean {
    this.evict(now);
    if (this.seen.has(signature)) return false;
    if (this.seen.size >= this.maxEntries) this.seen.delete(this.seen.keys().next().value!);
    this.seen.set(signature, now);
    return true;
  }

  private evict(now: number): void {
    for (const [signature, at] of this.seen) {
      if (now - at <= this.windowMs) break; // insertion order is time order
      this.seen.delete(signature);
    }
  }
}
