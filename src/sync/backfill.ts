// The whole-history backfill: a task of the one worker (worker.ts) at the lowest priority. Each step fetches
// ONE page of one member's collection, newest first, and commits its records with the checkpoint of the next
// page (history.ts): the worker starts from the top after every step, so a webhook event or a /sync waits for
// one page at most, and a crash refetches at most the page that was in flight. A collection is complete when
// WHOOP has no next page in the window [WHOOP_HISTORY_SINCE or 2012, the moment the backfill started).
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyBaseLogger } from 'fastify';
import type { Database } from '../db/database.js';
import type { Metrics } from '../metrics/metrics.js';
import type { WhoopApi } from '../whoop/api.js';
import type { WhoopBudget } from '../whoop/budget.js';
import { ReauthorizationRequiredError } from '../whoop/errors.js';
import { dayReserve, minuteReserve, type History, type HistoryRow } from './history.js';
import { RESOURCE_SPECS, toRow, upsertSql } from './resources.js';
import { RESOURCES, type Resource } from './collections.js';

/** After a failed page, the collection rests this long, doubling with each failure in a row, up to the max. */
const FAILURE_REST_MS = 5_000;
const FAILURE_REST_MAX_MS = 10 * 60_000;

const UPSERT = Object.fromEntries(
  RESOURCES.map((name) => [name, upsertSql(RESOURCE_SPECS[name])]),
) as Record<Resource, string>;
const NO_SLEEPS: ReadonlyMap<string, string> = new Map();
/**
 * Recoveries store their sleep's start, from the stored sleep: one fetched later than its recovery (pages of
 * the collections reach back at different paces) gives its start to the recovery afterwards.
 */
const SLEEP_STARTS = `UPDATE whoop_recoveries r SET sleep_start = s.start FROM whoop_sleeps s
  WHERE r.user_id = $1::bigint AND r.sleep_start IS NULL AND r.sleep_id = s.id AND s.id = ANY($2::uuid[])`;

/** A member whose whole history is now stored. */
export interface HistoryComplete {
  userId: bigint;
  /** The oldest record's start; null when WHOOP had none. */
  oldest: Date | null;
  records: number;
}

export interface BackfillOptions {
  db: Database;
  api: WhoopApi;
  budget: WhoopBudget;
  history: History;
  metrics: Metrics;
  log: FastifyBaseLogger;
  /** WHOOP_HISTORY_SINCE. */
  since: Date | undefined;
  /** Whether connecting an account starts its backfill (WHOOP_HISTORY_SINCE is not `off`). */
  onConnect: boolean;
  /** Says once that a member's history is complete (Slack, when a report channel is set). */
  announce: (complete: HistoryComplete) => Promise<void>;
}

export class Backfill {
  private readonly resting = new Map<string, { until: number; failures: number }>();
  private lastPageAt = 0;

  constructor(private readonly options: BackfillOptions) {}

  /** One step for the worker: an announcement, or one page; false when nothing is due or the budget says wait. */
  readonly step = async (): Promise<boolean> => {
    const { history, since, budget, onConnect } = this.options;
    if (onConnect) await history.startMissing(since);
    if (await this.announceOne()) return true;
    const now = Date.now();
    const skip = [...this.resting.entries()].filter(([, rest]) => rest.until > now).map(([key]) => key);
    const row = await history.next(skip);
    if (!row) return false;
    const left = await budget.left();
    const { perMinute, perDay } = budget.limits;
    const reserve = minuteReserve(perMinute);
    if (left.minute <= reserve || left.day <= dayReserve(perDay)) return false;
    const key = `${row.userId}/${row.collection}`;
    // Never negative: Node 24 prints a warning on stderr for a negative delay.
    await sleep(Math.max(0, this.lastPageAt + 60_000 / (perMinute - reserve) - Date.now()));
    this.lastPageAt = Date.now();
    try {
      await this.fetchPage(row);
      this.resting.delete(key);
    } catch (error) {
      if (error instanceof ReauthorizationRequiredError) {
        // The grant no longer works: next() skips the account until it is connected again.
        this.options.log.warn({ userId: row.userId, collection: row.collection }, 'history backfill paused: the account must be reconnected');
        return true;
      }
      const failures = (this.resting.get(key)?.failures ?? 0) + 1;
      const restMs = Math.min(FAILURE_REST_MAX_MS, FAILURE_REST_MS * 2 ** (failures - 1));
      this.resting.set(key, { until: Date.now() + restMs, failures });
      this.options.log.warn({ err: error, userId: row.userId, collection: row.collection, failures }, 'a history page failed; trying it again later');
    }
    return true;
  };

  private async fetchPage(row: HistoryRow): Promise<void> {
    const { api, db, history, metrics } = this.options;
    const spec = RESOURCE_SPECS[row.collection];
    const userId = BigInt(row.userId);
    const window = { start: row.windowStart, end: row.windowEnd };
    const page = await api.page(userId, spec.collection, window, row.nextToken ?? undefined);
    const rows = page.records.map((record) => toRow(spec, record, NO_SLEEPS));
    const starts = page.records.map((record) => Date.parse(String(record[spec.timeColumn] ?? record.created_at)));
    const oldest = starts.length > 0 ? new Date(Math.min(...starts)) : undefined;
    await db.transaction(async (session) => {
      if (rows.length > 0) await session.query(UPSERT[row.collection], [JSON.stringify(rows)]);
      if (row.collection === 'sleeps' && rows.length > 0) {
        await session.query(SLEEP_STARTS, [row.userId, rows.map((each) => each.id)]);
      }
      await history.checkpoint(session, row, { nextToken: page.nextToken, oldest, records: rows.length });
    });
    metrics.recordsWritten.inc({ resource: row.collection }, rows.length);
    if (!page.nextToken) {
      this.options.log.info({ userId: row.userId, collection: row.collection, pages: row.pages + 1 }, 'history of a collection complete');
    }
  }

  /**
   * Announces one member whose history became complete: recorded first, then posted in the background, so a
   * slow Slack never holds up the worker and the message goes out once at most (a failure is logged).
   */
  private async announceOne(): Promise<boolean> {
    const { history, announce, log } = this.options;
    const [done] = await history.unannounced();
    if (!done) return false;
    await history.markAnnounced(done.userId);
    log.info({ userId: done.userId, oldest: done.oldestAt, records: done.records }, "a member's whole history is stored");
    const complete = { userId: BigInt(done.userId), oldest: done.oldestAt, records: done.records };
    void announce(complete).catch((error: unknown) =>
      log.warn({ err: error, userId: done.userId }, "could not announce that a member's history is complete"),
    );
    return true;
  }
}
