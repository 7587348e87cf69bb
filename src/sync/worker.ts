// The worker: exactly one process per database does WHOOP work, the one holding a session advisory lock on
// a connection of its own. The others try to take it every few seconds; when the worker dies, PostgreSQL
// ends its session, and another process takes the lock and carries on with everything recorded.
//
// The loop asks its tasks, in priority order, for one step of work; after any step it starts again from the
// top, so a /sync typed during a backfill waits for one page at most. Idle, it sleeps until woken or a second.
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyBaseLogger } from 'fastify';
import type { Database } from '../db/database.js';

/** One step of one kind of work; resolves true when it did something (the loop then starts over). */
export type Task = () => Promise<boolean>;

/** How often a process that is not the worker tries to take the lock. */
const LOCK_RETRY_MS = 3_000;
/** How often an idle worker looks for work recorded by other processes. */
const POLL_MS = 1_000;
/** After a step failed unexpectedly (logged), before the next. */
const FAILED_STEP_PAUSE_MS = 5_000;
/** Advisory-lock key of the worker ("whoopsync" in ASCII). */
const WORKER_LOCK_KEY = 0x77686f6f7073796en;
/**
 * Held by every step (waiting on it, not failing): whoever must change a member's data with no step writing
 * it meanwhile takes it too (src/members/forget.ts). "whoopste" in ASCII.
 */
export const STEP_LOCK_KEY = 0x77686f6f70737465n;

export class Worker {
  private readonly tasks: Array<{ priority: number; name: string; step: Task }> = [];
  private readonly lock;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private nap = new AbortController();

  constructor(
    private readonly db: Database,
    private readonly log: FastifyBaseLogger,
  ) {
    this.lock = db.sessionLock(WORKER_LOCK_KEY);
  }

  /** Adds a kind of work; a lower priority number goes first. */
  add(priority: number, name: string, step: Task): void {
    this.tasks.push({ priority, name, step });
    this.tasks.sort((a, b) => a.priority - b.priority);
  }

  /** Starts trying to be the worker, once `ready` settles (the token seed). */
  start(ready: Promise<unknown>): void {
    this.loop = ready.then(() => this.run());
  }

  /** Work was recorded in this process: look now instead of at the next poll. */
  wake(): void {
    this.nap.abort();
  }

  /** True while this process holds the lock. */
  get active(): boolean {
    return this.lock.held;
  }

  /** Takes no further step; resolves once the current one ended (true) or after `timeoutMs` (false). */
  async stop(timeoutMs: number): Promise<boolean> {
    this.stopping = true;
    this.wake();
    return (await Promise.race([this.loop?.then(() => true), sleep(timeoutMs, false, { ref: false })])) ?? true;
  }

  /** Releases the lock, after stop(). */
  release(): Promise<void> {
    return this.lock.release();
  }

  private async run(): Promise<void> {
    let held = false;
    while (!this.stopping) {
      if (!(await this.lock.take())) {
        if (held) this.log.warn('this process lost the worker lock (its database connection ended); trying to take it again');
        held = false;
        await this.rest(LOCK_RETRY_MS);
        continue;
      }
      if (!held) this.log.info('this process is the worker: it does the WHOOP work of every process on the database');
      held = true;
      let worked = false;
      for (const { name, step } of this.tasks) {
        if (this.stopping) return;
        worked = await this.db.withLock(STEP_LOCK_KEY, step).catch(async (error: unknown) => {
          this.log.error({ err: error, task: name }, `the worker's ${name} step failed; trying again shortly`);
          await this.rest(FAILED_STEP_PAUSE_MS);
          return true;
        });
        if (worked) break;
      }
      if (!worked) await this.rest(POLL_MS);
    }
  }

  private async rest(ms: number): Promise<void> {
    if (this.stopping) return;
    this.nap = new AbortController();
    await sleep(ms, undefined, { signal: this.nap.signal }).catch(() => {});
  }
}
