// Result messages: a step of the worker delivers the due results, together, through a ResultSink (Slack
// implements it) and records each outcome; a refusal is tried again after a backoff kept in sync_runs, until
// SLACK_RESULT_RETRY_SECONDS after the run finished; then it is given up, logged, counted and shown in /status.
//
// At least once: a result is marked delivered only after it went out, so a crash in the middle of posting
// may post it again (the next worker finds it undelivered); nothing is ever lost. A step holds the worker for
// as long as its slowest attempt, which the Slack client bounds (slack/poster.ts).
import type { FastifyBaseLogger } from 'fastify';
import { persistently } from '../db/transient.js';
import type { Metrics } from '../metrics/metrics.js';
import { outcomeOf, type SyncOutcome } from './engine.js';
import type { SyncRun, SyncRuns } from './runs.js';
import type { Task } from './worker.js';

/** Where result messages go: implemented by slack/reporter.ts, wired in app.ts. */
export interface ResultSink {
  /** Sends the message for a finished run; resolves false when the run has none, throws why it could not be sent. */
  deliver(outcome: SyncOutcome): Promise<boolean>;
}

export interface DeliveryOptions {
  runs: SyncRuns;
  results: ResultSink;
  metrics: Metrics;
  log: FastifyBaseLogger;
  /** How long after a run finished its undeliverable result is still retried. */
  retryMs: number;
  /** Aborted when the service stops: a refusal then is left for the next worker to try again. */
  signal: AbortSignal;
}

/** How long recording a sent result may wait for the database, also during shutdown. */
const RECORD_DELIVERY_MS = 5_000;
/**
 * Results attempted together in one step: those of one execution (a burst of commands) go out at once
 * rather than one after another, each as soon as Slack answers it.
 */
const PER_STEP = 50;

/** The worker's task: one attempt at each due result, the oldest first; true when there was one. */
export function resultDelivery({ runs, results, metrics, log, retryMs, signal }: DeliveryOptions): Task {
  const attempt = async (run: SyncRun) => {
    try {
      await results.deliver(outcomeOf(run));
    } catch (error) {
      if (signal.aborted) return;
      const reason = (error as Error).message;
      const { attempts, gaveUp } = await persistently(() => runs.deliveryFailed(run.id, reason, retryMs), signal);
      metrics.resultDeliveryFailures.inc({ outcome: gaveUp ? 'gave_up' : 'retrying' });
      if (gaveUp) log.error({ err: error, runId: run.id }, `gave up delivering the result of sync run ${run.id}: ${reason}`);
      else log.warn({ runId: run.id, attempts, reason }, `could not deliver the result of sync run ${run.id}; retrying`);
      return;
    }
    // Recorded even while the service stops (the message went out): otherwise the next worker posts it again.
    await persistently(() => runs.delivered(run.id), undefined, RECORD_DELIVERY_MS).catch(() => {});
  };
  return async () => {
    const due = await runs.dueResults(PER_STEP);
    // Every attempt ends before the step does; one whose outcome could not be recorded fails the step.
    const failed = (await Promise.allSettled(due.map(attempt))).find((outcome) => outcome.status === 'rejected');
    if (failed) throw failed.reason;
    return due.length > 0;
  };
}
