// Wires the sync engine and the background dispatcher (which reports results through the ResultSink the
// app passes in), resumes work stopped processes left behind, and stops cleanly: on shutdown a running
// sync gets a few seconds to finish, then is interrupted and put back in the queue for the next start.
import { randomUUID } from 'node:crypto';
import fp from 'fastify-plugin';
import { RunDispatcher, type ResultSink } from './dispatcher.js';
import { SyncEngine } from './engine.js';
import { syncRuns, type SyncRuns } from './runs.js';

/**
 * How long shutdown waits for a running sync before interrupting it, and then for the interruption. Both
 * together stay under Fastify's 10 s limit for close hooks and close-with-grace's 10 s delay.
 */
const DRAIN_MS = 5_000;
const INTERRUPT_MS = 3_000;

declare module 'fastify' {
  interface FastifyInstance {
    sync: SyncEngine;
    syncRuns: SyncRuns;
    dispatcher: RunDispatcher;
  }
}

interface SyncPluginOptions {
  /** Delivers result messages (slack/reporter.ts). */
  results: ResultSink;
  /** How long after a sync an undeliverable result is still retried. */
  deliveryTimeoutMs: number;
  /** How long a sync may list before its listings stop (SYNC_DEADLINE_SECONDS). */
  deadlineMs: number;
}

export default fp<SyncPluginOptions>(
  async (app, { results, deliveryTimeoutMs, deadlineMs }) => {
    const runs = syncRuns(app.db, randomUUID());
    const log = app.log.child({ component: 'sync' });
    const engine = new SyncEngine({
      db: app.db,
      api: app.whoop.api,
      tokens: app.whoop.tokens,
      runs,
      metrics: app.metrics,
      log,
      connectUrl: app.whoop.connectUrl,
      deadlineMs,
      signal: app.whoop.shutdownSignal,
      ready: () => app.whoop.seeded,
    });
    const dispatcher = new RunDispatcher({ engine, runs, results, metrics: app.metrics, log, deliveryTimeoutMs });
    app.decorate('sync', engine);
    app.decorate('syncRuns', runs);
    app.decorate('dispatcher', dispatcher);

    // The last success survives restarts, so a restart does not look like "no sync for days" to alerts.
    const lastSuccess = await app.db.prisma.syncRun.findFirst({ where: { status: 'succeeded' }, orderBy: { finishedAt: 'desc' }, select: { finishedAt: true } });
    if (lastSuccess?.finishedAt) app.metrics.lastSuccess.set(lastSuccess.finishedAt.getTime() / 1000);

    let started: Promise<void> = Promise.resolve();
    // In the background: adopting a stopped process's runs must not delay start-up (they wait for the seed).
    app.addHook('onReady', async () => {
      started = dispatcher.start().catch((error: Error) => app.log.error({ err: error }, 'could not resume unfinished sync runs'));
    });

    app.addHook('preClose', async () => {
      if (!(await dispatcher.idle(DRAIN_MS))) {
        app.log.warn('a sync is still running or reporting; interrupting it (the next start finishes it)');
      }
      // Cancels whatever still talks to WHOOP (an interrupted run, a slow seed) and starts no more result
      // messages, so the database can close. Interrupted runs and unsent results wait for the next start.
      dispatcher.stop();
      app.whoop.shutdown();
      const deadline = Date.now() + INTERRUPT_MS;
      await Promise.race([started, new Promise((resolve) => setTimeout(resolve, INTERRUPT_MS).unref())]);
      await dispatcher.idle(Math.max(0, deadline - Date.now()));
      await engine.idle(Math.max(0, deadline - Date.now()));
      await dispatcher.retire().catch(() => {});
    });
  },
  { name: 'sync', dependencies: ['database', 'metrics', 'whoop'] },
);
