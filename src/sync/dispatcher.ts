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

/**
 * Result messages in flight at once. Slack accepts about one message per second per channel anyway, and
 * each report claims its run in the database first: more would only take connections from other work.
 */
const CONCURRENT_REPORTS = 4;

/** Older runs are history, not work: a result a week late helps nobody. */
const RECOVERY_HORIZON_MS = 7 * 86_400_000;

export class RunDispatcher {
  private readonly inFlight = new InFlight();
  /** Recorded runs waiting to execute, oldest first. */
  private readonly pending = new Set<number>();
  /** Results waiting to be reported, oldest first: a sync that served thousands of runs returns them all at once. */
  private readonly outbox: SyncOutcome[] = [];
  /** deliverOutbox() loops running. */
  private reporting = 0;
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
        for (const outcome of outcomes) this.pending.delete(outcome.run.id);
        this.post(outcomes);
      }
    } finally {
      this.working = false;
      if (this.stopping) this.abandon();
    }
  }

  /** Queues results for reporting; they go out CONCURRENT_REPORTS at a time, in order. */
  private post(outcomes: SyncOutcome[]): void {
    for (const outcome of outcomes) this.outbox.push(outcome);
    while (this.reporting < CONCURRENT_REPORTS && this.outbox.length > 0 && !this.stopping) {
      this.reporting++;
      void this.inFlight.track(this.deliverOutbox());
    }
  }

  /** Reports results from the outbox, oldest first, until it is empty or the service stops. */
  private async deliverOutbox(): Promise<void> {
    try {
      for (let outcome = this.outbox.shift(); outcome && !this.stopping; outcome = this.outbox.shift()) {
        try {
          await this.reporter.report(outcome);
        } catch (error) {
          this.log.error({ err: error, runId: outcome.run.id }, `the result of sync run ${outcome.run.id} could not be reported`);
        }
        this.release(outcome.run.id);
      }
    } finally {
      this.reporting--;
      if (this.stopping) this.abandon();
    }
  }

  /** Shutting down: what is left is finished and reported by the next start (see recover()). */
  private abandon(): void {
    this.pending.clear();
    this.outbox.length = 0;
    // Whoever waits for one of these runs learns that it will not be finished here.
    for (const runId of [...this.waiters.keys()]) this.release(runId);
  }

  private release(runId: number): void {
    const callers = this.waiters.get(runId);
    this.waiters.delete(runId);
    callers?.forEach((resolve) => resolve());
  }

  /** Finishes what a previous process acknowledged but did not complete. */
  async recover(): Promise<void> {
    const since = new Date(Date.now() - RECOVERY_HORIZON_MS);
    this.post((await this.runs.unreported(since)).map(outcomeOf));
    const unfinished = await this.runs.unfinished(since);
    if (unfinished.length > 0) {
      this.log.info({ runs: unfinished.map((run) => run.id) }, `resuming ${unfinished.length} sync run(s) left unfinished`);
    }
    await Promise.all(unfinished.map((run) => this.dispatch(run.id)));
  }
}

const first = (set: Set<number>): number | undefined => set.values().next().value;
