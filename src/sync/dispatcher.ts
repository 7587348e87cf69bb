// Runs recorded syncs in the background and reports each result. Every acknowledged /sync ends in
// exactly one result message: runs left unfinished or unreported by a process that died are picked up
// at the next start.
//
// A queued run costs one number in a set until it executes: a flood of /sync commands behind a long
// sync (tens of thousands of acknowledged runs) keeps the heap small, and with it the garbage collector's
// pauses in every acknowledgement that follows.
import type { FastifyBaseLogger } from 'fastify';
import type { Reporter } from '../slack/reporter.js';
import { InFlight } from '../util/in-flight.js';
import { outcomeOf, SyncInterruptedError, type SyncEngine, type SyncOutcome } from './engine.js';
import type { SyncRuns } from './runs.js';

/** Older runs are history, not work: a result a week late helps nobody. */
const RECOVERY_HORIZON_MS = 7 * 86_400_000;

export class RunDispatcher {
  private readonly inFlight = new InFlight();
  /** Recorded runs waiting to execute, oldest first. */
  private readonly pending = new Set<number>();
  /** Callers of dispatch() waiting for a run's result to be reported. */
  private readonly waiters = new Map<number, Array<() => void>>();
  private working = false;
  private stopping = false;

  constructor(
    private readonly engine: SyncEngine,
    private readonly runs: SyncRuns,
    private readonly reporter: Reporter,
    private readonly log: FastifyBaseLogger,
  ) {}

  /** Queues a recorded run: it executes after the runs queued before it, and its result is reported. */
  enqueue(runId: number): void {
    this.pending.add(runId);
    if (this.working) return;
    this.working = true;
    void this.inFlight.track(this.work());
  }

  /** enqueue(), resolving once the run was executed and its result reported (or not, at shutdown). Never rejects. */
  dispatch(runId: number): Promise<void> {
    const done = new Promise<void>((resolve) => {
      const callers = this.waiters.get(runId) ?? [];
      callers.push(resolve);
      this.waiters.set(runId, callers);
    });
    this.enqueue(runId);
    return done;
  }

  /** Starts no further runs or result messages (a run already executing finishes or is interrupted). */
  stop(): void {
    this.stopping = true;
    this.reporter.stop();
  }

  /** Resolves true once every queued run was executed and reported, or false after `timeoutMs`. */
  idle(timeoutMs: number): Promise<boolean> {
    return this.inFlight.idle(timeoutMs);
  }

  /**
   * Executes the queued runs one after another. One execution serves every run queued by the time it
   * starts (see SyncEngine): their results come back together, and the next execution starts while they
   * are being reported.
   */
  private async work(): Promise<void> {
    try {
      for (let runId = first(this.pending); runId !== undefined && !this.stopping; runId = first(this.pending)) {
        let outcomes: SyncOutcome[];
        try {
          const { joined = [], ...outcome } = await this.engine.execute(runId);
          outcomes = [outcome, ...joined];
        } catch (error) {
          // Interrupted by shutdown: this run and the rest of the queue are in the database for the next start.
          if (error instanceof SyncInterruptedError) break;
          this.log.error({ err: error, runId }, `sync run ${runId} could not be completed`);
          this.pending.delete(runId);
          this.release(runId);
          continue;
        }
        for (const outcome of outcomes) {
          const id = outcome.run.id;
          this.pending.delete(id);
          void this.inFlight.track(this.report(outcome).finally(() => this.release(id)));
        }
      }
    } finally {
      this.working = false;
      if (this.stopping) {
        // Whoever waits for a run still queued learns that it will not run here.
        this.pending.clear();
        for (const runId of [...this.waiters.keys()]) this.release(runId);
      }
    }
  }

  private async report(outcome: SyncOutcome): Promise<void> {
    // Shutting down: what is left is reported by the next start (see recover()).
    if (this.stopping) return;
    try {
      await this.reporter.report(outcome);
    } catch (error) {
      this.log.error({ err: error, runId: outcome.run.id }, `the result of sync run ${outcome.run.id} could not be reported`);
    }
  }

  private release(runId: number): void {
    const callers = this.waiters.get(runId);
    this.waiters.delete(runId);
    callers?.forEach((resolve) => resolve());
  }

  /** Finishes what a previous process acknowledged but did not complete. */
  async recover(): Promise<void> {
    const since = new Date(Date.now() - RECOVERY_HORIZON_MS);
    const unreported = await this.runs.unreported(since);
    for (const run of unreported) await this.reporter.report(outcomeOf(run));
    const unfinished = await this.runs.unfinished(since);
    if (unfinished.length > 0) {
      this.log.info({ runs: unfinished.map((run) => run.id) }, `resuming ${unfinished.length} sync run(s) left unfinished`);
    }
    await Promise.all(unfinished.map((run) => this.dispatch(run.id)));
  }
}

const first = (set: Set<number>): number | undefined => set.values().next().value;
