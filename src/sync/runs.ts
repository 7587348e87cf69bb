// Data access for sync_runs: one row per sync, whatever triggered it.
import type { Database } from '../db/database.js';
import type { SyncStatus, SyncTrigger } from '../generated/prisma/enums.js';
import type { Resource } from '../metrics/metrics.js';

export interface ResourceCounts {
  upserted: number;
  deleted: number;
}
export type SyncCounts = Record<Resource, ResourceCounts>;

export interface SyncRequest {
  days: number;
  trigger: SyncTrigger;
  /** Slack user id, schedule name, or whoever ran the CLI. */
  requestedBy?: string | null;
  channelId?: string | null;
  responseUrl?: string | null;
}

export type SyncRun = NonNullable<Awaited<ReturnType<Database['prisma']['syncRun']['findUnique']>>>;

export function emptyCounts(): SyncCounts {
  return {
    cycles: { upserted: 0, deleted: 0 },
    recoveries: { upserted: 0, deleted: 0 },
    sleeps: { upserted: 0, deleted: 0 },
    workouts: { upserted: 0, deleted: 0 },
  };
}

export function syncRuns(db: Database) {
  const { prisma } = db;
  return {
    /** Records a requested run (status queued): the ack path's only database write. */
    create: (request: SyncRequest) =>
      prisma.syncRun.create({
        data: {
          trigger: request.trigger,
          days: request.days,
          requestedBy: request.requestedBy ?? null,
          channelId: request.channelId ?? null,
          responseUrl: request.responseUrl ?? null,
        },
      }),

    get: (id: number) => prisma.syncRun.findUnique({ where: { id } }),

    /**
     * Marks a run and every other run still waiting in the queue as running over one window: one WHOOP
     * sync serves them all. Returns the runs joined to `id`.
     */
    startWithQueued: async (id: number, window: (days: number) => { start: Date; end: Date }) =>
      prisma.$transaction(async (tx) => {
        const waiting = await tx.syncRun.findMany({ where: { OR: [{ id }, { status: 'queued' }] }, orderBy: { id: 'asc' } });
        const days = Math.max(...waiting.map((run) => run.days));
        const { start, end } = window(days);
        const ids = waiting.map((run) => run.id);
        await tx.syncRun.updateMany({
          where: { id: { in: ids } },
          data: { status: 'running', startedAt: new Date(), windowStart: start, windowEnd: end, error: null },
        });
        return { ids, days, window: { start, end } };
      }),

    finish: (ids: number[], status: Extract<SyncStatus, 'succeeded' | 'failed'>, counts: SyncCounts, accounts: number, error: string | undefined) =>
      prisma.syncRun.updateManyAndReturn({
        where: { id: { in: ids } },
        data: { status, counts: counts as object, accounts, error: error ?? null, finishedAt: new Date() },
      }),

    /** Puts runs interrupted by shutdown back in the queue, to be run again at the next start. */
    requeue: (ids: number[]) => prisma.syncRun.updateMany({ where: { id: { in: ids } }, data: { status: 'queued', startedAt: null } }),

    /** Runs acknowledged or started but never finished (their process died or was stopped). */
    unfinished: (since: Date) =>
      prisma.syncRun.findMany({ where: { status: { in: ['queued', 'running'] }, requestedAt: { gte: since } }, orderBy: { id: 'asc' } }),

    /** Finished runs whose result message never went out. */
    unreported: (since: Date) =>
      prisma.syncRun.findMany({
        where: { status: { in: ['succeeded', 'failed'] }, trigger: { in: ['slack', 'schedule'] }, reportedAt: null, reportError: null, finishedAt: { gte: since } },
        orderBy: { id: 'asc' },
      }),

    recent: (limit: number) => prisma.syncRun.findMany({ orderBy: { id: 'desc' }, take: limit }),
  };
}

export type SyncRuns = ReturnType<typeof syncRuns>;
