// An execution: one WHOOP sync of every connected account over [now − days, now] (cycles, recoveries,
// sleeps, workouts, profile and body measurement) that serves every run waiting when it starts. Only the
// worker (worker.ts) executes, so executions never overlap, in any process.
import type { FastifyBaseLogger } from 'fastify';
import pRetry from 'p-retry';
import type { Database } from '../db/database.js';
import { isTransient, persistently } from '../db/transient.js';
import type { Metrics } from '../metrics/metrics.js';
import { PAGE_LIMIT, type ListLimits, type TimeWindow, type WhoopApi } from '../whoop/api.js';
import { ReauthorizationRequiredError } from '../whoop/errors.js';
import type { TokenStore } from '../whoop/token-store.js';
import { RESOURCES, type Resource } from './collections.js';
import { deleteMissingSql, RESOURCE_SPECS, toRow, upsertSql, type Sleep } from './resources.js';
import { emptyCounts, type SyncCounts, type SyncRun, type SyncRuns } from './runs.js';

const SPECS = RESOURCE_SPECS;
const SQL = Object.fromEntries(
  RESOURCES.map((name) => [name, { upsert: upsertSql(SPECS[name]), deleteMissing: deleteMissingSql(SPECS[name]) }]),
) as Record<Resource, { upsert: string; deleteMissing: string }>;
/**
 * Rows per INSERT statement. A page is one statement; the recoveries, written together after their
 * sleeps are listed, are cut so that no statement runs long.
 */
const BATCH_SIZE = 50;
/**
 * How long an execution is tried again while the database fails under it (a server restart takes
 * seconds) before its runs are recorded failed. Recording that is retried until the database is back.
 */
const DATABASE_RETRY_MS = 60_000;
/**
 * Records per day and collection a window can plausibly hold: a day has one cycle, one recovery, a sleep
 * or two and a few workouts. With a margin of pages, more than this means the pagination does not end.
 */
const RECORDS_PER_DAY = 10;
const EXTRA_PAGES = 2;

export interface SyncOutcome {
  run: SyncRun;
  status: 'succeeded' | 'failed';
  counts: SyncCounts;
  accounts: number;
  error?: string;
  durationMs: number;
}

export interface SyncEngineOptions {
  db: Database;
  api: WhoopApi;
  tokens: TokenStore;
  runs: SyncRuns;
  metrics: Metrics;
  log: FastifyBaseLogger;
  connectUrl: string;
  /** An execution still listing by then fails instead of holding up the worker (SYNC_DEADLINE_SECONDS). */
  deadlineMs: number;
  /** Aborted when the service shuts down: an execution in progress is put back for the next worker. */
  signal: AbortSignal;
}

type Attempt = { counts: SyncCounts; accounts: number; failures: Error[] };

export class SyncEngine {
  constructor(private readonly options: SyncEngineOptions) {}

  /** Executes every waiting run as one execution; false when none was waiting. */
  async executeWaiting(): Promise<boolean> {
    const { runs, metrics, log, signal } = this.options;
    const started = await runs.start(new Date());
    if (!started) return false;
    const { ids, days, window } = started;
    const startedAt = Date.now();
    log.info({ runs: listed(ids), days }, 'sync started');
    // The database failed under the sync: the whole execution is tried again (its writes are idempotent).
    const { counts, accounts, failures } = await pRetry(() => this.attempt(window, days, startedAt), {
      retries: Infinity,
      minTimeout: 500,
      maxTimeout: 5_000,
      maxRetryTime: DATABASE_RETRY_MS,
      shouldRetry: ({ error }) => isTransient(error) && !signal.aborted,
      onFailedAttempt: ({ error, attemptNumber }) => log.warn({ err: error, attempt: attemptNumber }, 'the database failed during a sync; retrying'),
    }).catch((error: Error): Attempt => ({ counts: emptyCounts(), accounts: 0, failures: [error] }));
    if (signal.aborted) {
      await runs.requeue(ids);
      log.warn({ runs: listed(ids) }, 'sync interrupted by shutdown; it will run again at the next start');
      return true;
    }

    const error = failures.length > 0 ? [...new Set(failures.map((failure) => failure.message))].join('; ') : undefined;
    // A success that cannot be recorded (a statement the database refuses) is recorded as a failure instead
    // of leaving the runs to be executed again and again.
    const finish = (as: 'succeeded' | 'failed', why = error) => persistently(() => runs.finish(ids, as, counts, accounts, why), signal);
    const finished = await finish(error ? 'failed' : 'succeeded').catch((failure: Error) => finish('failed', `its outcome could not be recorded: ${failure.message}`));
    const durationMs = Date.now() - startedAt;
    for (const each of finished) metrics.syncRuns.inc({ trigger: each.trigger, outcome: each.status });
    metrics.syncDuration.observe({ trigger: finished[0]!.trigger }, durationMs / 1000);
    for (const name of RESOURCES) {
      metrics.recordsWritten.inc({ resource: name }, counts[name].upserted);
      metrics.recordsDeleted.inc({ resource: name }, counts[name].deleted);
    }
    if (error) for (const failure of failures) log.error({ err: failure, runs: listed(ids) }, 'sync failed');
    else {
      metrics.lastSuccess.set(Date.now() / 1000);
      log.info({ runs: listed(ids), counts, durationMs }, 'sync succeeded');
    }
    return true;
  }

  /** Syncs every account once; throws a transient database failure so that the whole attempt is repeated. */
  private async attempt(window: TimeWindow, days: number, startedAt: number): Promise<Attempt> {
    const counts = emptyCounts();
    const failures: Error[] = [];
    const limits = {
      maxPages: Math.ceil((days * RECORDS_PER_DAY) / PAGE_LIMIT) + EXTRA_PAGES,
      deadline: startedAt + this.options.deadlineMs,
    };
    const accounts = await this.options.tokens.accounts();
    if (accounts.length === 0) failures.push(new Error(`No WHOOP account is connected yet: connect one with /whoop connect in Slack, or from the dashboard at ${this.options.connectUrl}`));
    for (const account of accounts) {
      try {
        await this.syncAccount(account.userId, window, counts, limits);
      } catch (error) {
        failures.push(error as Error);
      }
    }
    const databaseFailure = failures.find(isTransient);
    if (databaseFailure && !this.options.signal.aborted) throw databaseFailure;
    return { counts, accounts: accounts.length, failures };
  }

  private async syncAccount(userId: bigint, window: TimeWindow, counts: SyncCounts, limits: ListLimits): Promise<void> {
    const { api, tokens, db } = this.options;
    const user = userId.toString();
    // Start from the stored grant: another process may have refreshed or revoked it since the last run.
    api.forget(userId);
    // The four collections are listed concurrently (pages within each are a sequential chain), so a long
    // window takes about as long as its longest collection. Each page is written as it arrives, while the
    // next one is on its way. Recoveries wait for the sleeps: each stores its sleep's start. Once a
    // collection is complete, what WHOOP no longer returns in it is deleted; after a failure, pages already
    // written stay (they are WHOOP's current records) and nothing is deleted.
    const listings = {} as Record<Resource, Promise<unknown[]>>;
    const writes = RESOURCES.map(async (name) => {
      const keys: string[] = [];
      const write = async (records: unknown[], sleepStarts: ReadonlyMap<string, string> = NO_SLEEPS) => {
        const rows = records.map((record) => toRow(SPECS[name], record, sleepStarts));
        for (const row of rows) keys.push(String(row[SPECS[name].key]));
        for (let i = 0; i < rows.length; i += BATCH_SIZE) {
          counts[name].upserted += await db.execute(SQL[name].upsert, [JSON.stringify(rows.slice(i, i + BATCH_SIZE))]);
        }
      };
      // Assigned before the first await: the recoveries' function reads the sleeps' listing later.
      listings[name] = api.listAll(userId, SPECS[name].collection, window, name === 'recoveries' ? undefined : write, limits);
      const records = await listings[name];
      if (name === 'recoveries') {
        const sleeps = (await listings.sleeps.catch(() => [])) as Sleep[];
        await write(records, new Map(sleeps.map((sleep) => [sleep.id.toLowerCase(), sleep.start])));
      }
      const params = [user, window.start.toISOString(), window.end.toISOString(), JSON.stringify(keys)];
      counts[name].deleted += await db.execute(SQL[name].deleteMissing, params);
    });
    const profile = Promise.all([api.profile(userId), api.body(userId)]).then(([p, b]) =>
      tokens.saveProfile(userId, p, b),
    );
    const results = await Promise.allSettled([...writes, profile]);
    const failures = results.flatMap((result) => (result.status === 'rejected' ? [result.reason as Error] : []));
    if (failures.length > 0) throw failures.find((f) => f instanceof ReauthorizationRequiredError) ?? failures[0]!;
  }
}

const NO_SLEEPS: ReadonlyMap<string, string> = new Map();

/** Run ids for a log line: a flood of queued commands must not turn one line into megabytes. */
function listed(ids: number[]): Array<number | string> {
  return ids.length <= 20 ? ids : [...ids.slice(0, 20), `… and ${ids.length - 20} more`];
}

export function outcomeOf(run: SyncRun): SyncOutcome {
  const durationMs = run.startedAt && run.finishedAt ? run.finishedAt.getTime() - run.startedAt.getTime() : 0;
  const status = run.status === 'succeeded' ? 'succeeded' : 'failed';
  const { counts, accounts, error } = run;
  return { run, status, counts: counts ?? emptyCounts(), accounts: accounts ?? 0, ...(error && { error }), durationMs };
}
