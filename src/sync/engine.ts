// The sync engine: the one entry point every trigger (Slack, schedules, CLI, webhooks) calls. A run syncs
// every connected account over [now − days, now]: cycles, recoveries, sleeps and workouts, plus profile
// and body measurement. Runs execute one at a time across every process sharing the database.
import type { FastifyBaseLogger } from 'fastify';
import type { Database } from '../db/database.js';
import type { Metrics } from '../metrics/metrics.js';
import { PAGE_LIMIT, type ListLimits, type TimeWindow, type WhoopApi } from '../whoop/api.js';
import { ReauthorizationRequiredError } from '../whoop/errors.js';
import { InFlight } from '../util/in-flight.js';
import type { TokenStore } from '../whoop/token-store.js';
import { RESOURCES, type Resource } from './collections.js';
import { backoffMs, isTransientDatabaseError, pause } from './database-retry.js';
import { cycles, deleteMissingSql, recoveries, sleeps, toRow, upsertSql, workouts, type ResourceSpec, type Sleep } from './resources.js';
import { emptyCounts, type SyncCounts, type SyncRequest, type SyncRun, type SyncRuns } from './runs.js';

const SPECS: Record<Resource, ResourceSpec<any>> = { cycles, recoveries, sleeps, workouts };
const SQL = Object.fromEntries(
  RESOURCES.map((name) => [name, { upsert: upsertSql(SPECS[name]), deleteMissing: deleteMissingSql(SPECS[name]) }]),
) as Record<
  Resource,
  { upsert: string; deleteMissing: string }
>;
/**
 * Rows per INSERT statement. A page is one statement; the recoveries, written together after their
 * sleeps are listed, are cut so that no statement runs long and WHOOP's answers are read in between.
 */
const BATCH_SIZE = 50;
/**
 * How long a sync keeps retrying when the database fails under it (a server restart takes seconds)
 * before the run is declared failed. A run is never left unfinished by the database: if it cannot even
 * record its failure, it keeps trying until the database is back.
 */
const DATABASE_RETRY_MS = 60_000;
/**
 * Records per day and collection a window can plausibly hold: a day has one cycle, one recovery, a sleep
 * or two and a few workouts. With a margin of pages, more than this means the pagination does not end.
 */
const RECORDS_PER_DAY = 10;
const EXTRA_PAGES = 2;
/** Advisory-lock key that serializes sync runs across processes ("whoopsync" in ASCII). */
export const SYNC_LOCK_KEY = 0x77686f6f7073796en;

export interface SyncOutcome {
  run: SyncRun;
  status: 'succeeded' | 'failed';
  counts: SyncCounts;
  accounts: number;
  error?: string;
  durationMs: number;
  /** Other queued runs this execution served that nobody in this process waits for: report them too. */
  joined?: SyncOutcome[];
}

/** The service is shutting down: the run goes back to the queue and is finished at the next start. */
export class SyncInterruptedError extends Error {
  constructor(readonly runId: number) {
    super(`Sync run ${runId} was interrupted by shutdown; it will run again at the next start`);
    this.name = 'SyncInterruptedError';
  }
}

interface Waiter {
  resolve(outcome: SyncOutcome): void;
  reject(error: unknown): void;
}

export interface SyncEngineOptions {
  db: Database;
  api: WhoopApi;
  tokens: TokenStore;
  runs: SyncRuns;
  metrics: Metrics;
  log: FastifyBaseLogger;
  connectUrl: string;
  /** A sync that has not finished listing by then fails instead of holding the sync lock (SYNC_DEADLINE_SECONDS). */
  deadlineMs: number;
  /** Aborted when the service shuts down. */
  signal?: AbortSignal;
  /** Settles when runs may start: after the token store was seeded from WHOOP_REFRESH_TOKEN. */
  ready?: () => Promise<unknown>;
  now?: () => Date;
}

export class SyncEngine {
  private readonly now: () => Date;
  private readonly inFlight = new InFlight();
  /** Callers of execute(), by run, in the order the runs were first asked for. */
  private readonly waiting = new Map<number, Waiter[]>();
  private worker: Promise<void> | undefined;

  constructor(private readonly options: SyncEngineOptions) {
    this.now = options.now ?? (() => new Date());
  }

  /** Records a run and executes it. */
  async syncAll(request: SyncRequest): Promise<SyncOutcome> {
    const run = await this.options.runs.create(request);
    return this.execute(run.id);
  }

  /** Executes a recorded run once no other run is in progress (in this or any other process). */
  execute(runId: number): Promise<SyncOutcome> {
    const outcome = new Promise<SyncOutcome>((resolve, reject) => {
      const callers = this.waiting.get(runId) ?? [];
      callers.push({ resolve, reject });
      this.waiting.set(runId, callers);
    });
    this.startWorker();
    return this.inFlight.track(outcome);
  }

  private startWorker(): void {
    if (this.worker) return;
    this.worker = this.work().finally(() => {
      this.worker = undefined;
      // A caller may have arrived between the last check of the loop and now.
      if (this.waiting.size > 0) this.startWorker();
    });
  }

  /**
   * Executes the waiting runs, oldest first. One execution serves every run queued by then (they join it),
   * and settles all of their callers at once: a burst of requests costs one lock acquisition, not one each.
   */
  private async work(): Promise<void> {
    // Every trigger alike: a run started before the seed settles would find no account yet.
    await this.options.ready?.();
    while (this.waiting.size > 0) {
      const runId = this.waiting.keys().next().value!;
      try {
        const { joined = [], ...outcome } = await this.attempt(runId);
        // Joined runs with callers here are answered here; the others (queued by a process that is gone)
        // travel with the outcome so that whoever reports it reports them too.
        const orphans = joined.filter((each) => !this.settle(each.run.id, (caller) => caller.resolve(each)));
        this.settle(runId, (caller) => caller.resolve({ ...outcome, joined: orphans }));
      } catch (error) {
        this.settle(runId, (caller) => caller.reject(error));
      }
    }
  }

  /**
   * Executes a run under the sync lock, again and again while the database fails transiently: for
   * DATABASE_RETRY_MS as part of the sync, then only to record that it failed.
   */
  private async attempt(runId: number): Promise<SyncOutcome> {
    const retryUntil = Date.now() + DATABASE_RETRY_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.options.db.withLock(SYNC_LOCK_KEY, () => this.executeLocked(runId, Date.now() < retryUntil));
      } catch (error) {
        if (!isTransientDatabaseError(error) || this.options.signal?.aborted) throw error;
        this.options.log.warn({ err: error, runId, attempt }, `the database failed during sync run ${runId}; retrying`);
        await pause(backoffMs(attempt), this.options.signal);
      }
    }
  }

  /** Hands the callers waiting for `runId` to `fn`; false when there were none. */
  private settle(runId: number, fn: (caller: Waiter) => void): boolean {
    const callers = this.waiting.get(runId);
    this.waiting.delete(runId);
    callers?.forEach(fn);
    return callers !== undefined;
  }

  /** True while a run of this process is executing or waiting for the sync lock. */
  get busy(): boolean {
    return this.worker !== undefined;
  }

  /** Resolves true once no run is executing or waiting in this process, or false after `timeoutMs`. */
  idle(timeoutMs: number): Promise<boolean> {
    return this.inFlight.idle(timeoutMs);
  }

  private async executeLocked(runId: number, retryDatabase: boolean): Promise<SyncOutcome> {
    const { runs, tokens, metrics, log } = this.options;
    const existing = await runs.get(runId);
    if (!existing) throw new Error(`Sync run ${runId} does not exist`);
    // Finished while this caller waited for the lock: it was joined to an earlier execution.
    if (existing.status === 'succeeded' || existing.status === 'failed') return outcomeOf(existing);

    // A run found "running" here is an orphan (its process died: the lock is free), and every queued
    // run joins this one, so requests that pile up behind a sync cost one more WHOOP sync, not one each.
    const startedAt = Date.now();
    const { ids, days, window } = await runs.startWithQueued(runId, this.now());
    log.info({ runId, joined: listed(ids.filter((id) => id !== runId)), days }, 'sync started');

    const counts = emptyCounts();
    const failures: Error[] = [];
    const limits = {
      maxPages: Math.ceil((days * RECORDS_PER_DAY) / PAGE_LIMIT) + EXTRA_PAGES,
      deadline: startedAt + this.options.deadlineMs,
    };
    const accounts = await tokens.accounts();
    if (accounts.length === 0) {
      failures.push(new Error(`No WHOOP account is connected yet: connect one at ${this.options.connectUrl}`));
    }
    for (const account of accounts) {
      try {
        await this.syncAccount(account.userId, window, counts, limits);
      } catch (error) {
        failures.push(error as Error);
      }
    }

    if (this.options.signal?.aborted) {
      await runs.requeue(ids);
      log.warn({ runs: listed(ids) }, 'sync interrupted by shutdown; it will run again at the next start');
      throw new SyncInterruptedError(runId);
    }

    // The database failed under the sync: the whole execution is tried again (its writes are idempotent).
    const databaseFailure = failures.find(isTransientDatabaseError);
    if (databaseFailure && retryDatabase) throw databaseFailure;

    const error = failures.length > 0 ? summarize(failures) : undefined;
    const status = error ? 'failed' : 'succeeded';
    const finished = await runs.finish(ids, status, counts, accounts.length, error);
    const durationMs = Date.now() - startedAt;
    const run = finished.find((r) => r.id === runId)!;

    for (const each of finished) metrics.syncRuns.inc({ trigger: each.trigger, outcome: status });
    metrics.syncDuration.observe({ trigger: run.trigger }, durationMs / 1000);
    for (const name of RESOURCES) {
      metrics.recordsWritten.inc({ resource: name }, counts[name].upserted);
      metrics.recordsDeleted.inc({ resource: name }, counts[name].deleted);
    }
    if (status === 'succeeded') {
      metrics.lastSuccess.set(Date.now() / 1000);
      log.info({ runs: listed(ids), counts, durationMs }, 'sync succeeded');
    } else {
      for (const failure of failures) log.error({ err: failure, runs: listed(ids) }, 'sync failed');
    }
    const outcome = (each: SyncRun): SyncOutcome => ({
      run: each,
      status,
      counts,
      accounts: accounts.length,
      ...(error ? { error } : {}),
      durationMs,
    });
    return { ...outcome(run), joined: finished.filter((r) => r.id !== runId).map(outcome) };
  }

  private async syncAccount(userId: bigint, window: TimeWindow, counts: SyncCounts, limits: ListLimits): Promise<void> {
    const { api, tokens, db } = this.options;
    // Start from the stored grant: another process may have refreshed or revoked it since the last run.
    api.forget(userId);
    // The four collections are read concurrently (pagination within each is inherently sequential), so a
    // backfill takes about as long as its longest collection. Each page is upserted as soon as it is
    // validated, while the next one is on its way: the database work fills the waits for WHOOP instead of
    // coming after them. Recoveries wait for the sleeps: each stores its sleep's start. Once a collection is
    // complete, what WHOOP no longer returns in it is deleted.
    const writers = Object.fromEntries(
      RESOURCES.map((name) => [name, new PageWriter(db, name, userId)]),
    ) as Record<Resource, PageWriter>;
    const listings = Object.fromEntries(
      RESOURCES.map((name) => [
        name,
        api.listAll(userId, SPECS[name].collection, window, name === 'recoveries' ? undefined : (page) => writers[name].add(page, NO_SLEEPS), limits),
      ]),
    ) as Record<Resource, Promise<unknown[]>>;
    const writes = RESOURCES.map(async (name) => {
      const writer = writers[name];
      try {
        const records = await listings[name];
        if (name === 'recoveries') {
          const sleeps = (await listings.sleeps.catch(() => [])) as Sleep[];
          writer.add(records, new Map(sleeps.map((sleep) => [sleep.id.toLowerCase(), sleep.start])));
        }
        counts[name].deleted += await writer.deleteMissing(window);
      } finally {
        // Also after a failure: pages already written stay (they are WHOOP's current records), counted.
        counts[name].upserted += await writer.settled();
      }
    });
    const profile = Promise.all([api.profile(userId), api.body(userId)])
      .then(([p, b]) => tokens.saveProfile(userId, p, b));
    const results = await Promise.allSettled([...writes, profile]);
    const failures = results.flatMap((result) => (result.status === 'rejected' ? [result.reason as Error] : []));
    if (failures.length > 0) throw failures.find((f) => f instanceof ReauthorizationRequiredError) ?? failures[0]!;
  }
}

const NO_SLEEPS: ReadonlyMap<string, string> = new Map();

/**
 * Writes one collection of one account: pages are upserted one after another as they arrive (in
 * statements of at most BATCH_SIZE rows). After a failed write nothing more is written, and
 * deleteMissing() throws that failure instead of deleting.
 */
class PageWriter {
  private readonly spec: ResourceSpec<any>;
  private readonly keys: string[] = [];
  private chain: Promise<void> = Promise.resolve();
  private failure: { error: unknown } | undefined;
  private upserted = 0;

  constructor(
    private readonly db: Database,
    private readonly name: Resource,
    private readonly userId: bigint,
  ) {
    this.spec = SPECS[name];
  }

  add(records: unknown[], sleepStarts: ReadonlyMap<string, string>): void {
    const rows = records.map((record) => toRow(this.spec, record, sleepStarts));
    for (const row of rows) this.keys.push(String(row[this.spec.key]));
    for (let i = 0; i < rows.length; i += BATCH_SIZE) {
      const json = JSON.stringify(rows.slice(i, i + BATCH_SIZE));
      this.chain = this.chain.then(async () => {
        if (this.failure) return;
        // Between two statements, answers that have arrived meanwhile are read first.
        await new Promise((resolve) => setImmediate(resolve));
        try {
          this.upserted += await this.db.execute(SQL[this.name].upsert, [json]);
        } catch (error) {
          this.failure = { error };
        }
      });
    }
  }

  /** Waits for the pages added so far; the number of rows they upserted. */
  async settled(): Promise<number> {
    await this.chain;
    return this.upserted;
  }

  /** Once every page is written, deletes the window's records WHOOP did not return; throws a write's failure. */
  async deleteMissing(window: TimeWindow): Promise<number> {
    await this.chain;
    if (this.failure) throw this.failure.error;
    const { start, end } = window;
    return this.db.execute(SQL[this.name].deleteMissing, [
      this.userId.toString(),
      start.toISOString(),
      end.toISOString(),
      JSON.stringify(this.keys),
    ]);
  }
}

/** Run ids for a log line: a flood of queued commands must not turn one line into megabytes. */
function listed(ids: number[]): Array<number | string> {
  return ids.length <= 20 ? ids : [...ids.slice(0, 20), `… and ${ids.length - 20} more`];
}

function summarize(failures: Error[]): string {
  return [...new Set(failures.map((failure) => failure.message))].join('; ');
}

export function outcomeOf(run: SyncRun): SyncOutcome {
  const counts = (run.counts as SyncCounts | null) ?? emptyCounts();
  const durationMs = run.startedAt && run.finishedAt ? run.finishedAt.getTime() - run.startedAt.getTime() : 0;
  return {
    run,
    status: run.status === 'succeeded' ? 'succeeded' : 'failed',
    counts,
    accounts: run.accounts ?? 0,
    ...(run.error ? { error: run.error } : {}),
    durationMs,
  };
}
