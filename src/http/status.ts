// GET /status: a small JSON summary for operators — connected accounts and whether they need
// re-authorization, the last sync runs, the next scheduled runs. No tokens, no health values.
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { SyncCounts } from '../sync/runs.js';
import { operatorAuth } from './operator-auth.js';

const RECENT_RUNS = 10;

export const statusRoutes: FastifyPluginAsync = async (app) => {
  app.get('/status', { onRequest: operatorAuth(app.config.metricsToken) }, async () => statusSummary(app));
};

/** The summary /status answers with; the dashboard shows it too. */
export async function statusSummary(app: FastifyInstance) {
  const [accounts, runs, webhooks] = await Promise.all([
    app.whoop.tokens.accounts(),
    app.syncRuns.recent(RECENT_RUNS),
    app.webhooks.events.summary(),
  ]);
  return {
    accounts: accounts.map((account) => ({
      userId: account.userId.toString(),
      name: [account.user.firstName, account.user.lastName].filter(Boolean).join(' ') || null,
      status: account.status,
      reauthorizationRequired: account.status === 'reauthorization_required',
      ...(account.statusReason ? { reason: account.statusReason } : {}),
    })),
    connectUrl: app.whoop.connectUrl,
    slackSocket: app.slackSocket.status(),
    recentRuns: runs.map((run) => ({
      id: run.id,
      trigger: run.trigger,
      days: run.days,
      status: run.status,
      window: run.windowStart && run.windowEnd ? { start: run.windowStart, end: run.windowEnd } : null,
      counts: (run.counts as SyncCounts | null) ?? null,
      error: run.error,
      requestedAt: run.requestedAt,
      durationMs: run.startedAt && run.finishedAt ? run.finishedAt.getTime() - run.startedAt.getTime() : null,
      // The result message: delivered, pending, retrying (with the last error) or given up.
      report: {
        state: run.reportedAt ? 'delivered' : run.reportGaveUpAt ? 'gave_up' : run.reportError ? 'retrying' : 'pending',
        attempts: run.reportAttempts,
        error: run.reportError,
      },
    })),
    schedules: app.scheduler.scheduled.map((job) => ({
      schedule: job.name,
      timezone: app.config.sync.timezone,
      nextRun: job.nextRun(),
    })),
    webhooks,
    digests: await app.digests.status(),
  };
}
