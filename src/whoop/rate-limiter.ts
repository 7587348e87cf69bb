// Keeps this process under WHOOP's per-app limit of 100 requests per minute. A sliding window (rather
// than evenly spaced requests) lets a sync fire its first requests at once, which is what makes small
// syncs fast; only a long backfill ever waits.

export class SlidingWindowLimiter {
  private readonly sent: number[] = [];
  private queue: Promise<void> = Promise.resolve();
  private pausedUntil = 0;

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Resolves when one more request may be sent; callers are served in arrival order. */
  acquire(): Promise<void> {
    const turn = this.queue.then(() => this.waitForSlot());
    this.queue = turn.catch(() => {});
    return turn;
  }

  /** WHOOP said the window is exhausted (429 or Remaining: 0): send nothing until it resets. */
  pauseFor(ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, this.now() + ms);
  }

  private async waitForSlot(): Promise<void> {
    for (;;) {
      const now = this.now();
      while (this.sent.length > 0 && this.sent[0]! <= now - this.windowMs) this.sent.shift();
      const pause = this.pausedUntil - now;
      const full = this.sent.length >= this.limit ? this.sent[0]! + this.windowMs - now : 0;
      const wait = Math.max(pause, full);
      if (wait <= 0) {
        this.sent.push(now);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}
