// Wires the run pipeline: runs are recorded by every process (sync.record, or syncRuns.create on the ack
// path), and the worker (whichever process holds the lock) executes them and delivers their results. On
// shutdown a running execution gets a few seconds to finish, then is interrupted and put back for the next
// worker.
import { setTimeout as sleep } from 'node:timers/promises';
import fp from 'fastify-plugin';
import { Backfill, type HistoryComplete } from './backfill.js';
import { resultDelivery, type ResultSink } from './delivery.js';
import { outcomeOf, SyncEngine, type SyncOutcome } from './engine.js';
import { history, type History } from './history.js';
import { syncRuns, type SyncRequest, type SyncRuns } from './runs.js';
import { Worker } from './worker.js';

/**
 * How long shutdown waits for a running step before interrupting it, and then for the interruption. Both
 * together stay under Fastify's 10 s limit for close hooks and close-with-grace's 10 s delay.
 */
const DRAIN_MS = 5_000;
const INTERRUPT_MS = 3_000;
/** How often someone waiting for a run's outcome looks at it. */
const OUTCOME_POLL_MS = 100;

export interface Sync {
  /** Records a run and wakes this process's worker: the sync happens in the background. */
  record(request: SyncRequest): Promise<{ id: number }>;
  /** Records a run and resolves with its outcome, whichever process executes it. */
  syncAll(request: SyncRequest): Promise<SyncOutcome>;
}

declare module 'fastify' {
  interface FastifyInstance {
    sync: Sync;
    syncRuns: SyncRuns;
    worker: Worker;
    history: History;
  }
}

interface SyncPluginOptions {
  /** Delivers result messages (slack/reporter.ts). */
  results: ResultSink;
  /** How long after a sync an undeliverable result is still retried. */
  deliveryTimeoutMs: number;
  /** How long a sync may list before its listings stop (SYNC_DEADLINE_SECONDS). */
  deadlineMs: number;
  /** How far back a member's whole history is fetched (WHOOP_HISTORY_SINCE); undefined: all of it. */
  historySince: Date | undefined;
  /** Whether connecting an account starts its backfill (false: WHOOP_HISTORY_SINCE=off). */
  historyOnConnect: boolean;
  /** Says once that a member's history is complete (slack/, when SLACK_REPORT_CHANNEL is set). */
  announceHistory: (complete: HistoryComplete) => Promise<void>;
}

export default fp<SyncPluginOptions>(
  async (app, { results, deliveryTimeoutMs, deadlineMs, historySince, historyOnConnect, announceHistory }) => {
    const { db, metrics, whoop } = app;
    const { api, tokens, connectUrl, shutdownSignal: signal } = whoop;
    const runs = syncRuns(db);
    const log = app.log.child({ component: 'sync' });
    const engine = new SyncEngine({ db, api, tokens, runs, metrics, log, connectUrl, deadlineMs, signal });
    const worker = new Worker(db, log);
    worker.add(20, 'sync', () => engine.executeWaiting());
    // After the runs: a /sync typed while a long sync ran starts at its end, not after that sync's result is
    // posted. Results wait only while runs wait, and one execution takes every run waiting when it starts.
    worker.add(25, 'result delivery', resultDelivery({ runs, results, metrics, log, retryMs: deliveryTimeoutMs, signal }));
    const histories = history(db);
    const backfill = new Backfill({
      db,
      api,
      budget: whoop.budget,
      history: histories,
      metrics,
      log: app.log.child({ component: 'history' }),
      since: historySince,
      onConnect: historyOnConnect,
      announce: announceHistory,
    });
    // Lowest of all: webhook events (10), runs (20) and deliveries (25) go before the next page.
    worker.add(30, 'history backfill', backfill.step);

    const record = async (request: SyncRequest) => {
      const run = (await runs.create(request))!;
      worker.wake();
      return run;
    };
    app.decorate('sync', {
      record,
      async syncAll(request) {
        const { id } = await record(request);
        for (;;) {
          const run = await runs.get(id);
          if (run && (run.status === 'succeeded' || run.status === 'failed')) return outcomeOf(run);
          if (signal.aborted) throw new Error(`the service stopped before sync run ${id} finished; the next worker runs it`);
          await sleep(OUTCOME_POLL_MS);
        }
      },
    } satisfies Sync);
    app.decorate('syncRuns', runs).decorate('worker', worker).decorate('history', histories);

    // The last success survives restarts, so a restart does not look like "no sync for days" to alerts.
    const lastSuccess = await runs.lastSuccess();
    if (lastSuccess) app.metrics.lastSuccess.set(lastSuccess.getTime() / 1000);

    // Every trigger alike waits for the seed: a run executed before it would find no account yet.
    app.addHook('onReady', async () => worker.start(app.whoop.seeded));

    app.addHook('preClose', async () => {
      if (!(await worker.stop(DRAIN_MS))) {
        app.log.warn('a step of the worker is still running; interrupting it (the next worker finishes it)');
      }
      // Cancels whatever still talks to WHOOP (an interrupted execution, a slow seed), so the database can
      // close. What is left waits for the next worker.
      app.whoop.shutdown();
      await worker.stop(INTERRUPT_MS);
      await worker.release();
    });
  },
  { name: 'sync', dependencies: ['database', 'metrics', 'whoop'] },
);
