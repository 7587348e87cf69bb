// GET /status: a small JSON summary for operators — connected accounts and whether they need
// re-authorization, the last sync runs, the next scheduled runs. No tokens, no health values.
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { historyLine, historyTime, timeLeftText } from '../sync/history.js';
import { operatorAuth } from './operator-auth.js';

const RECENT_RUNS = 10;

export const statusRoutes: FastifyPluginAsync = async (app) => {
  // Without METRICS_TOKEN anyone may read /status, so it names no one: counts and states only.
  const names = Boolean(app.config.metricsToken);
  app.get('/status', { onRequest: operatorAuth(app.config.metricsToken) }, async () => statusSummary(app, { names }));
};

/**
 * The summary /status answers with; the dashboard shows it too. `names`: whether accounts carry their member's
 * name (only for a caller who proved to be the operator or the member).
 */
export async function statusSummary(app: FastifyInstance, { names }: { names: boolean }) {
  const [accounts, runs, webhooks, budget, history] = await Promise.all([
    app.whoop.tokens.accounts(),
    app.syncRuns.recent(RECENT_RUNS),
    app.webhooks.events.summary(),
    app.whoop.budget.left(),
    app.history.summary(),
  ]);
  const time = historyTime(history.requestsLeft, app.whoop.budget.limits);
  return {
    accounts: accounts.map((account) => ({
      ...(names ? { userId: account.userId.toString() } : {}),
      ...(names ? { name: [account.user.firstName, account.user.lastName].filter(Boolean).join(' ') || null } : {}),
      status: account.status,
      reauthorizationRequired: account.status === 'reauthorization_required',
      ...(account.statusReason ? { reason: account.statusReason } : {}),
    })),
    connectUrl: app.whoop.connectUrl,
    // What is left of WHOOP's budget for this app, shared by every process on the database.
    whoopBudget: { ...budget, perMinute: app.whoop.budget.limits.perMinute, perDay: app.whoop.budget.limits.perDay },
    // Each member's whole-history backfill (src/sync/backfill.ts); names only for the operator.
    history: {
      collectionsIncomplete: history.collectionsIncomplete,
      requestsLeft: history.requestsLeft,
      ...time,
      paused: history.paused,
      text: history.collectionsIncomplete === 0
        ? 'every history complete'
        : history.requestsLeft === 0 && history.paused > 0
          ? `paused until ${history.paused === 1 ? 'the account is' : `${history.paused} accounts are`} connected again`
          : time.daysLeft > 1
          ? `${timeLeftText(time)}: it spreads the ${history.requestsLeft} requests still needed over days`
          : timeLeftText(time),
      members: history.members.map((member) => ({
        ...(names ? { userId: member.userId } : {}),
        since: member.since,
        reached: member.reached,
        percent: member.percent,
        complete: member.complete,
        paused: member.paused,
        pages: member.pages,
        records: member.records,
        startedAt: member.startedAt,
        completedAt: member.completedAt,
        text: historyLine(member, time),
      })),
    },
    slackSocket: app.slackSocket.status(),
    recentRuns: runs.map((run) => ({
      id: run.id,
      trigger: run.trigger,
      days: run.days,
      status: run.status,
      window: run.windowStart && run.windowEnd ? { start: run.windowStart, end: run.windowEnd } : null,
      counts: run.counts,
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
