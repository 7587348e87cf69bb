// Benchmark 2, the backfill: a 365-day sync (what `/sync 365` runs) against a fake WHOOP that answers every
// request after a fixed latency and enforces WHOOP's 100 requests/minute. Compared with the lower bound the
// API itself imposes: each collection is a chain of sequential pages (ceil(records / 25), at least one),
// the service reads the collections concurrently, so no sync can take less than the longest chain × the
// latency, nor send fewer than the sum of the pages + 2 (profile and body measurement). The fake WHOOP runs
// in a process of its own (whoop-process.ts), as the real one runs on its own servers.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { PAGE_LIMIT } from '../../src/whoop/api.js';
import { expectedIds } from '../support/expected.js';
import type { RunningApp } from '../support/app.js';
import { testConfig } from '../support/app.js';
import { createTestDatabase } from '../support/database.js';
import { fakesEnv } from '../support/environment.js';
import { startLoggedApp } from './environment.js';
import { onCleanup, round, scoped, sleep } from './util.js';
import { startWhoopProcess } from './whoop-process.js';

/**
 * The untimed warm-up sync's window: long enough to hold records of every kind in every state (the last
 * day's are mostly not scored yet), so that every validator and code path the backfill uses has run once,
 * and short enough for one page per collection.
 */
export const WARMUP_DAYS = 7;

export interface BackfillOptions {
  days: number;
  /** Days of generated history (more than `days`, so the window is full). */
  historyDays: number;
  workoutsPerDay: number;
  latencyMs: number;
  perMinute: number;
  /** Allowed wall time / lower bound. */
  targetRatio: number;
  /**
   * Run a WARMUP_DAYS sync first (not timed), as a service that has been running has done: the measured backfill
   * then runs on warm code paths (JIT, compiled queries) instead of including the first-use costs.
   */
  warmup: boolean;
}

export interface CollectionFigures {
  collection: string;
  records: number;
  minPages: number;
  requests: number;
}

export interface BackfillResult {
  database: string;
  wallMs: number;
  lowerBoundMs: number;
  wallRatio: number;
  requests: number;
  minRequests: number;
  requestRatio: number;
  rateLimited: number;
  maxConcurrentRequests: number;
  status: string;
  /** Where the wall time went: before the first WHOOP request, the longest page chain, after its last answer. */
  breakdown: {
    setupMs: number;
    longestChainMs: number;
    perPageOverheadMs: number;
    whoopPerPageOverheadMs: number;
    tailMs: number;
    cpuMs: number;
  };
  /**
   * The service's main-thread event-loop delay during the sync, p99 and max in ms: how long an HTTP request
   * arriving meanwhile (a Slack command, a health check) could wait behind the sync's work.
   */
  loopDelay: { p99: number; max: number };
  warmedUp: boolean;
  collections: CollectionFigures[];
  stored: Record<string, number>;
  targetMet: boolean;
  problems: string[];
}

const PATHS: Record<string, string> = {
  cycles: '/developer/v2/cycle',
  recoveries: '/developer/v2/recovery',
  sleeps: '/developer/v2/activity/sleep',
  workouts: '/developer/v2/activity/workout',
};

export async function backfillBenchmark(
  options: BackfillOptions,
  progress: (line: string) => void,
): Promise<BackfillResult> {
  return scoped(async () => {
    progress(`backfill: ${options.historyDays} days of data (${options.workoutsPerDay} workouts/day), WHOOP latency ${options.latencyMs} ms, ${options.perMinute}/min enforced`);
    const whoop = await startWhoopProcess({
      whoop: { latencyMs: options.latencyMs, rateLimit: { perMinute: options.perMinute } },
      generate: { days: options.historyDays, workoutsPerDay: options.workoutsPerDay, seed: 7 },
    });
    const db = await createTestDatabase();
    const dropDb = onCleanup('test database', () => db.drop());
    // The member is connected the way a first start with WHOOP_REFRESH_TOKEN does it (refresh, profile,
    // body), before timing. Those requests stay in both rate-limit windows, as they would in real life.
    const config = testConfig(db, { ...fakesEnv(whoop), LOG_LEVEL: 'info', WHOOP_REFRESH_TOKEN: whoop.grant.refresh_token });
    const service = await startLoggedApp(db, config);
    const { app } = service.app;
    const member = whoop.member;
    await waitForAccount(app);
    // Warm up only if the whole minute still fits under the limit (connect 2 + warm-up 6 + backfill Σ pages
    // + 2, margin 5).
    const now = Date.now();
    const planned = expectedIds(whoop, member.user_id, {
      start: new Date(now - options.days * 86_400_000),
      end: new Date(now),
    });
    const backfillRequests = Object.values(planned)
      .reduce((sum, ids) => sum + Math.max(1, Math.ceil(ids.length / PAGE_LIMIT)), 2);
    const warmedUp = options.warmup && 2 + 6 + backfillRequests + 5 <= options.perMinute;
    if (warmedUp) {
      progress(`backfill: warm-up sync of ${WARMUP_DAYS} days (not timed)`);
      const warm = await app.sync.syncAll({ days: WARMUP_DAYS, trigger: 'cli' });
      if (warm.status !== 'succeeded') throw new Error(`the warm-up sync failed: ${warm.error ?? 'unknown error'}`);
    }
    const before = (await whoop.stats()).requests.length;
    progress(`backfill: syncing ${options.days} days`);
    const cpuBefore = process.cpuUsage();
    const loopDelay = monitorEventLoopDelay({ resolution: 1 });
    loopDelay.enable();
    const startedAt = Date.now();
    const started = performance.now();
    const outcome = await app.sync.syncAll({ days: options.days, trigger: 'cli' });
    const wallMs = performance.now() - started;
    const finishedAt = startedAt + wallMs;
    const cpu = process.cpuUsage(cpuBefore);
    loopDelay.disable();

    const stats = await whoop.stats();
    const api = stats.requests.slice(before).filter((r) => r.path.startsWith('/developer/'));
    const rateLimited = stats.rateLimited + api.filter((r) => r.status === 429).length;
    const { windowStart, windowEnd } = outcome.run;
    if (!windowStart || !windowEnd) throw new Error('the sync run has no window');
    const expected = expectedIds(whoop, member.user_id, { start: windowStart, end: windowEnd });
    const collections: CollectionFigures[] = Object.entries(expected).map(([name, ids]) => ({
      collection: name,
      records: ids.length,
      minPages: Math.max(1, Math.ceil(ids.length / PAGE_LIMIT)),
      requests: api.filter((r) => r.path === PATHS[name]).length,
    }));
    const profileRequests = api.filter((r) => r.path === '/developer/v2/user/profile/basic' || r.path === '/developer/v2/user/measurement/body').length;
    collections.push({ collection: 'profile + body', records: 2, minPages: 2, requests: profileRequests });

    const longestChain = Math.max(...collections.map((c) => (c.collection === 'profile + body' ? 1 : c.minPages)));
    const lowerBoundMs = longestChain * options.latencyMs;
    const minRequests = collections.reduce((sum, c) => sum + c.minPages, 0);
    // The fake logs each request's arrival time: the longest chain runs from its first page's arrival to its
    // last page's answer (arrival + latency).
    const longest = collections.reduce((a, b) => (b.minPages > a.minPages ? b : a));
    const chainRequests = api.filter((r) => r.path === PATHS[longest.collection]);
    const chain = chainRequests.map((r) => r.at);
    const firstAt = Math.min(...api.map((r) => r.at));
    const lastAnswer = Math.max(...api.map((r) => r.answeredAt ?? r.at + options.latencyMs));
    const longestChainMs =
      Math.max(...chainRequests.map((r) => r.answeredAt ?? r.at + options.latencyMs)) - Math.min(...chain);
    const perPageMs = longestChainMs / Math.max(1, chain.length);
    // The fake's own time per page past the latency (it prepares the page while the latency runs, so this
    // is its timer's lateness) is WHOOP's share; the rest of each step of the chain is ours (and the
    // loopback's).
    const whoopPerPageMs =
      chainRequests.reduce((sum, r) => sum + ((r.answeredAt ?? r.at + options.latencyMs) - r.at), 0) /
      Math.max(1, chain.length);
    const breakdown = {
      setupMs: round(firstAt - startedAt, 0),
      longestChainMs: round(longestChainMs, 0),
      perPageOverheadMs: round(perPageMs - options.latencyMs, 1),
      whoopPerPageOverheadMs: round(whoopPerPageMs - options.latencyMs, 1),
      tailMs: round(finishedAt - lastAnswer, 0),
      cpuMs: round((cpu.user + cpu.system) / 1000, 0),
    };
    const stored = Object.fromEntries(Object.entries(outcome.counts).map(([name, counts]) => [name, counts.upserted]));

    const problems: string[] = [];
    if (outcome.status !== 'succeeded') problems.push(`the backfill failed: ${outcome.error ?? 'unknown error'}`);
    if (rateLimited > 0) problems.push(`WHOOP answered 429 ${rateLimited} time(s)`);
    for (const c of collections.slice(0, 4)) {
      if (stored[c.collection] !== c.records) problems.push(`${c.collection}: stored ${stored[c.collection]} of ${c.records} records`);
    }
    const wallRatio = round(wallMs / lowerBoundMs, 2);
    await service.close();
    await whoop.close();
    await dropDb();
    return {
      database: process.env.TEST_DATABASE_URL ? 'postgres' : 'embedded',
      wallMs: round(wallMs, 0),
      lowerBoundMs,
      wallRatio,
      requests: api.length,
      minRequests,
      requestRatio: round(api.length / minRequests, 2),
      rateLimited,
      maxConcurrentRequests: stats.maxConcurrentRequests,
      status: outcome.status,
      breakdown,
      loopDelay: { p99: round(loopDelay.percentile(99) / 1e6, 1), max: round(loopDelay.max / 1e6, 1) },
      warmedUp,
      collections,
      stored,
      targetMet: wallMs / lowerBoundMs <= options.targetRatio,
      problems,
    };
  });
}

/** The seed from WHOOP_REFRESH_TOKEN runs in the background of start-up: wait for the account it stores. */
async function waitForAccount(app: RunningApp['app']): Promise<void> {
  const deadline = Date.now() + 30_000;
  while ((await app.whoop.tokens.accounts()).length === 0) {
    if (Date.now() > deadline) throw new Error('the WHOOP account was not seeded from WHOOP_REFRESH_TOKEN within 30 s');
    await sleep(50);
  }
}
