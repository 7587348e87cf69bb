// Carries recorded runs to their result: executes them in the background (through the engine), delivers
// each result message through a ResultSink (Slack implements it), and records the delivery. The rules,
// with the states in docs/architecture.md:
// - every run has an owner, the worker (process) that moves it on; a worker announces itself with a
//   heartbeat, and the runs of a worker that is gone are adopted by a live one: unfinished runs go back
//   to the queue (and resume as one execution), finished ones get their message;
// - a result is marked delivered only after it went out: a crash mid-post may repeat a message, never
//   lose one; a result no path accepts is retried with backoff until RESULT_DELIVERY_TIMEOUT_SECONDS;
// - database writes that record an outcome are retried until the database is back.
//
// A queued run costs one number in a set until it executes: a flood of /sync commands behind a long
// sync (tens of thousands of acknowledged runs) keeps the heap small, and with it the garbage collector's
// pauses in every acknowledgement that follows.
import type { FastifyBaseLogger } from 'fastify';
import type { Metrics } from '../metrics/metrics.js';
import { InFlight } from '../util/in-flight.js';
import { persistently } from './database-retry.js';
import { outcomeOf, SyncInterruptedError, type SyncEngine, type SyncOutcome } from './engine.js';
import { emptyCounts, type SyncRuns } from './runs.js';

/** Where result messages go: implemented by slack/reporter.ts, wired in app.ts. */
export interface ResultSink {
  /** Sends the message for a finished run; resolves false when the run has none, throws why it could not be sent. */
  deliver(outcome: SyncOutcome): Promise<boolean>;
}

export interface DispatcherOptions {
  engine: SyncEngine;
  runs: SyncRuns;
  results: ResultSink;
  metrics: Metrics;
  log: FastifyBaseLogger;
  /** How long after a run finished its undeliverable result is still retried. */
  deliveryTimeoutMs: number;
}

/**
 * Result messages in flight at once. Slack accepts about one message per second per channel anyway, and
 * each report writes to the database: more would only take connections from other work.
 */
const CONCURRENT_REPORTS = 4;
/** Older runs are history, not work: a result a week late helps nobody. */
const RECOVERY_HORIZON_MS = 7 * 86_400_000;
/** Heartbeat period; a worker silent for WORKER_EXPIRY_SECONDS (runs.ts) is gone. */
const HEARTBEAT_MS = 2_000;
/** Every this many heartbeats, the runs of gone workers are adopted. */
const ADOPT_EVERY = 3;
/**
 * A run of this worker recorded this long ago and still unfinished while nothing here executes is stuck:
 * whoever records a run queues it moments later.
 */
const STUCK_AFTER_SECONDS = 5;
/**
 * A stuck run is resumed this many times at most: one whose outcome keeps failing to be recorded is then
 * failed and reported, instead of syncing WHOOP again every few seconds for as long as the process lives.
 */
const MAX_RESUMES = 3;
/** First retry of an undeliverable result, doubling up to the maximum. */
const DELIVERY_RETRY_FIRST_MS = 2_000;
const DELIVERY_RETRY_MAX_MS = 5 * 60_000;
/** A held run whose acknowledgement never reported back (the connection went away) executes after this anyway. */
const HOLD_MAX_MS = 10_000;

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
  /** Timers of results waiting for their next delivery attempt. */
  private readonly retries = new Set<NodeJS.Timeout>();
  /** Runs recorded and waiting for their acknowledgement to be sent before they are queued (see hold). */
  private readonly held = new Map<number, () => void>();
  private heartbeat: NodeJS.Timeout | undefined;
  private adopting = false;
  /** How often each stuck run of this worker was resumed (see resumeOwn). */
  private readonly resumed = new Map<number, number>();
  private working = false;
  private stopping = false;
  private readonly stopped = new AbortController();

  constructor(private readonly options: DispatcherOptions) {}

  /** Queues a recorded run: it executes after the runs queued before it, and its result is reported. */
  enqueue(runId: number): void {
    this.pending.add(runId);
    if (!this.working) {
      this.working = true;
      void this.inFlight.track(this.work());
    }
    this.unhold(runId);
  }

  /**
   * Marks a recorded run whose acknowledgement is still being sent: it is queued by enqueue() once the ack
   * is out, and until then idle() counts it, so nothing that waits for this worker to settle misses it.
   */
  hold(runId: number): void {
    if (this.held.has(runId) || this.stopping) return;
    let resolve!: () => void;
    void this.inFlight.track(new Promise<void>((done) => (resolve = done)));
    const timer = setTimeout(() => this.enqueue(runId), HOLD_MAX_MS);
    this.held.set(runId, () => {
      clearTimeout(timer);
      resolve();
    });
  }

  private unhold(runId: number): void {
    const release = this.held.get(runId);
    this.held.delete(runId);
    release?.();
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

  /** Announces this worker, keeps its heartbeat, and adopts what gone workers left (now and periodically). */
  async start(): Promise<void> {
    await persistently(() => this.options.runs.register(), this.stopped.signal);
    let beats = 0;
    this.heartbeat = setInterval(() => {
      this.options.runs.heartbeat().catch(() => {}); // the database is away: the next beat tries again
      if (++beats % ADOPT_EVERY === 0) void this.adopt();
    }, HEARTBEAT_MS).unref();
    await this.adopt();
  }

  /** Starts no further runs or result messages (a run already executing finishes or is interrupted). */
  stop(): void {
    this.stopping = true;
    this.stopped.abort();
    clearInterval(this.heartbeat);
    for (const timer of this.retries) clearTimeout(timer);
    this.retries.clear();
    // A held run stays queued in the database: whoever adopts this worker's runs executes it.
    for (const runId of [...this.held.keys()]) this.unhold(runId);
  }

  /** After stop() and idle(): what this worker still owns is adopted by the next one at once. */
  retire(): Promise<unknown> {
    return this.options.runs.retire();
  }

  /** Resolves true once every queued run was executed and reported, or false after `timeoutMs`. */
  idle(timeoutMs: number): Promise<boolean> {
    return this.inFlight.idle(timeoutMs);
  }

  /** Takes over the runs of workers that are gone: their queue resumes as one execution, their results go out. */
  private async adopt(): Promise<void> {
    if (this.adopting || this.stopping) return;
    this.adopting = true;
    try {
      const { queued, unreported } = await this.options.runs.adopt(new Date(Date.now() - RECOVERY_HORIZON_MS));
      if (queued.length + unreported.length > 0) {
        this.options.log.info({ queued: queued.length, unreported: unreported.length }, 'resuming sync runs left unfinished or unreported by a stopped process');
      }
      this.post(unreported.map(outcomeOf));
      // The first queued run takes every other queued run with it (see SyncEngine).
      if (queued.length > 0) this.enqueue(queued[0]!);
      else await this.resumeOwn();
    } catch (error) {
      this.options.log.warn({ err: error }, 'could not look for sync runs left by stopped processes; trying again shortly');
    } finally {
      this.adopting = false;
    }
  }

  /**
   * Moves on this worker's own runs that nothing here moves: a run recorded but never queued (a scheduled
   * slot whose next database write failed) or left running by an execution that failed before it could
   * record the outcome. Adoption skips them (their owner is alive), so without this they would stay
   * unfinished for as long as the process lives, and their schedule would skip every later slot.
   */
  private async resumeOwn(): Promise<void> {
    const idle = () => !this.working && this.pending.size === 0 && !this.options.engine.busy;
    if (!idle()) return;
    const stuck = await this.options.runs.unmoved(new Date(Date.now() - RECOVERY_HORIZON_MS), STUCK_AFTER_SECONDS);
    if (stuck.length === 0 || !idle() || this.stopping) return;
    const exhausted = stuck.filter((id) => (this.resumed.get(id) ?? 0) >= MAX_RESUMES);
    if (exhausted.length > 0) {
      const error = `its outcome could not be recorded after ${MAX_RESUMES + 1} attempts`;
      this.options.log.error({ runs: exhausted.slice(0, 20), count: exhausted.length }, `giving up sync runs: ${error}`);
      const runs = await this.options.runs.finish(exhausted, 'failed', emptyCounts(), 0, error);
      for (const id of exhausted) this.resumed.delete(id);
      this.post(runs.map(outcomeOf));
      return;
    }
    this.options.log.warn({ runs: stuck.slice(0, 20), count: stuck.length }, 'resuming sync runs of this process that were left unfinished by a failed database write');
    for (const id of stuck) this.resumed.set(id, (this.resumed.get(id) ?? 0) + 1);
    this.enqueue(stuck[0]!);
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
          const { joined = [], ...outcome } = await this.options.engine.execute(runId);
          outcomes = [outcome, ...joined];
        } catch (error) {
          // Interrupted by shutdown: this run and the rest of the queue are in the database for the next start.
          if (error instanceof SyncInterruptedError || this.stopping) break;
          this.options.log.error({ err: error, runId }, `sync run ${runId} could not be completed`);
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
          await this.report(outcome);
        } catch (error) {
          // Only at shutdown (the database writes are retried until then): the next start reports it.
          this.options.log.warn({ err: error, runId: outcome.run.id }, `the result of sync run ${outcome.run.id} is left for the next start`);
        }
        this.release(outcome.run.id);
      }
    } finally {
      this.reporting--;
      if (this.stopping) this.abandon();
    }
  }

  /** Delivers one result, then records it: delivered, to be retried, or given up. */
  private async report(outcome: SyncOutcome): Promise<void> {
    const { runs, results, metrics, log } = this.options;
    const { run } = outcome;
    // Another worker executed or adopted it: that one reports it. Delivered already: a run queued twice
    // (resumed while its recorder was slow to queue it) is reported once.
    if (run.owner !== runs.owner || run.reportedAt) return;
    let failure: Error;
    try {
      await results.deliver(outcome);
      await persistently(() => runs.reported(run.id), this.stopped.signal);
      return;
    } catch (error) {
      if (this.stopping) throw error;
      failure = error as Error;
    }
    const reason = failure.message;
    const remainingMs = (run.finishedAt ?? new Date()).getTime() + this.options.deliveryTimeoutMs - Date.now();
    if (remainingMs <= 0) {
      await persistently(() => runs.reportGaveUp(run.id, reason), this.stopped.signal);
      metrics.resultDeliveryFailures.inc({ outcome: 'gave_up' });
      log.error({ err: failure, runId: run.id, attempts: run.reportAttempts + 1 }, `gave up delivering the result of sync run ${run.id}: ${reason}`);
      return;
    }
    const attempts = await persistently(() => runs.reportFailed(run.id, reason), this.stopped.signal);
    metrics.resultDeliveryFailures.inc({ outcome: 'retrying' });
    const delayMs = Math.min(DELIVERY_RETRY_FIRST_MS * 2 ** (attempts - 1), DELIVERY_RETRY_MAX_MS, remainingMs);
    log.warn({ runId: run.id, attempts, reason, retryInMs: delayMs }, `could not deliver the result of sync run ${run.id}; retrying`);
    const timer = setTimeout(() => {
      this.retries.delete(timer);
      void this.inFlight.track(this.redeliver(run.id));
    }, delayMs);
    this.retries.add(timer);
  }

  /** A retry reads the run again: it may have been delivered, given up or adopted meanwhile. */
  private async redeliver(runId: number): Promise<void> {
    const run = await persistently(() => this.options.runs.get(runId), this.stopped.signal).catch(() => null);
    if (run && !run.reportedAt && !run.reportGaveUpAt && run.owner === this.options.runs.owner) {
      this.post([outcomeOf(run)]);
    }
  }

  /** Shutting down: what is left is finished and reported by the next start (see adopt()). */
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
}

const first = (set: Set<number>): number | undefined => set.values().next().value;
