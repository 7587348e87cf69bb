// Where each member's whole-history backfill stands: the only module that reads or writes backfill_progress.
// One row per connected account and collection holds the token of the next page over a fixed window (WHOOP
// wants the same start and end on every page), how far back the pages reached, and when it completed. A
// page's records and its checkpoint commit in one transaction (backfill.ts), so a crash refetches at most the
// one page per collection that was in flight. Rows go with the account's grant (ON DELETE CASCADE).
import type { Database, SqlSession } from '../db/database.js';
import { DAY_MS } from '../util/time.js';
import { RESOURCES, type Resource } from './collections.js';

/**
 * Where a window starts without WHOOP_HISTORY_SINCE: before the first WHOOP strap that recorded data, so
 * every member's history lies inside it.
 */
export const HISTORY_FLOOR = new Date('2012-01-01T00:00:00Z');
/**
 * How much history the estimate assumes a member has while no collection has reached its end, in days (three
 * years; WHOOP does not say when a member started). Only the estimate uses it, never the backfill.
 */
const ASSUMED_HISTORY_DAYS = 3 * 365;
/** Days one page of 25 records covers, for the estimate before a collection's first page. */
const DAYS_PER_PAGE = 25;
/** The order in which a member's collections take turns: sleeps before recoveries, which store their start. */
const TURN_ORDER: Resource[] = ['cycles', 'sleeps', 'recoveries', 'workouts'];

export interface HistoryRow {
  /** As PostgreSQL sends a bigint: a decimal string. */
  userId: string;
  collection: Resource;
  windowStart: Date;
  windowEnd: Date;
  nextToken: string | null;
  oldestAt: Date | null;
  pages: number;
  records: number;
  startedAt: Date;
  completedAt: Date | null;
}

/** One member's history, as /status, the page at `/`, the dashboard, metrics and MCP show it. */
export interface MemberHistory {
  userId: string;
  /** Not before this date (WHOOP_HISTORY_SINCE or --since); null: all of it. */
  since: string | null;
  /** The oldest day reached so far in every collection (YYYY-MM-DD); null before the first page. */
  reached: string | null;
  complete: boolean;
  /** Share of the member's history fetched, 0–100 (an estimate while incomplete: docs/architecture.md). */
  percent: number;
  /** Requests still to send, estimated. */
  requestsLeft: number;
  pages: number;
  records: number;
  collectionsIncomplete: number;
  /** Incomplete, and waiting for the account to be connected again (WHOOP refused its grant). */
  paused: boolean;
  startedAt: string;
  completedAt: string | null;
}

export interface HistorySummary {
  members: MemberHistory[];
  /** Collections of all members still being fetched (the whoop_history_collections_incomplete gauge). */
  collectionsIncomplete: number;
  /** Requests every incomplete backfill that is not paused still needs, estimated. */
  requestsLeft: number;
  /** Members whose incomplete history waits for their account to be connected again. */
  paused: number;
}

/** The account's grant works: a backfill whose grant WHOOP refused waits until the account is connected again. */
const GRANT_WORKS = `EXISTS (SELECT 1 FROM whoop_tokens t WHERE t.user_id = b.user_id AND t.status = 'active')`;
const COLUMNS = `user_id AS "userId", collection, window_start AS "windowStart", window_end AS "windowEnd",
  next_token AS "nextToken", oldest_at AS "oldestAt", pages, records, started_at AS "startedAt", completed_at AS "completedAt"`;
const day = (date: Date) => date.toISOString().slice(0, 10);

export function history(db: Database) {
  return {
    /**
     * Starts the backfill of every connected account that has none yet: new connections (OAuth callback,
     * `npm run connect`, the WHOOP_REFRESH_TOKEN seed) and accounts connected before this version. Resolves
     * to the number of rows created.
     */
    async startMissing(since: Date | undefined): Promise<number> {
      return db.execute(
        `INSERT INTO backfill_progress (user_id, collection, window_start, window_end)
         SELECT t.user_id, c.collection, $1::timestamptz, clock_timestamp()
         FROM whoop_tokens t CROSS JOIN unnest($2::text[]) AS c(collection)
         ON CONFLICT DO NOTHING`,
        [(since ?? HISTORY_FLOOR).toISOString(), [...RESOURCES]],
      );
    },

    /**
     * `npm run sync -- --all [--since]`: resumes every incomplete backfill over the same window, and starts
     * again (from now, newest first) those complete or bounded differently. Resolves to the rows (re)started.
     */
    async restart(since: Date | undefined): Promise<number> {
      await this.startMissing(since);
      return db.execute(
        `UPDATE backfill_progress SET window_start = $1::timestamptz, window_end = clock_timestamp(), next_token = NULL,
           oldest_at = NULL, pages = 0, records = 0, started_at = clock_timestamp(), completed_at = NULL, announced_at = NULL
         WHERE completed_at IS NOT NULL OR window_start <> $1::timestamptz`,
        [(since ?? HISTORY_FLOOR).toISOString()],
      );
    },

    /**
     * The collection whose next page comes next: of accounts whose grant works, the one with the fewest pages
     * so far, so every member's and collection's newest weeks come before anyone's older years. `skip` are
     * rows resting after a failure ("user_id/collection").
     */
    async next(skip: string[] = []): Promise<HistoryRow | undefined> {
      const [row] = await db.query<HistoryRow>(
        `SELECT ${COLUMNS} FROM backfill_progress b
         WHERE b.completed_at IS NULL
           AND ${GRANT_WORKS}
           AND NOT (b.user_id::text || '/' || b.collection = ANY($2::text[]))
         ORDER BY b.pages, array_position($1::text[], b.collection), b.user_id LIMIT 1`,
        [TURN_ORDER, skip],
      );
      return row;
    },

    /**
     * Records a fetched page in the transaction that wrote its records: where the next page starts, how far
     * back it reached; no next token completes the collection.
     */
    async checkpoint(
      session: SqlSession,
      row: Pick<HistoryRow, 'userId' | 'collection'>,
      page: { nextToken: string | undefined; oldest: Date | undefined; records: number },
    ): Promise<void> {
      await session.query(
        `UPDATE backfill_progress SET next_token = $3, oldest_at = LEAST(oldest_at, $4::timestamptz),
           pages = pages + 1, records = records + $5,
           completed_at = CASE WHEN $3::text IS NULL THEN clock_timestamp() END
         WHERE user_id = $1::bigint AND collection = $2`,
        [row.userId, row.collection, page.nextToken ?? null, page.oldest?.toISOString() ?? null, page.records],
      );
    },

    /** Members whose every collection is complete and whose completion was not announced yet. */
    async unannounced(): Promise<Array<{ userId: string; oldestAt: Date | null; records: number }>> {
      return db.query(
        `SELECT user_id AS "userId", min(oldest_at) AS "oldestAt", sum(records)::int AS records FROM backfill_progress
         GROUP BY user_id HAVING bool_and(completed_at IS NOT NULL) AND bool_or(announced_at IS NULL) ORDER BY user_id`,
      );
    },

    async markAnnounced(userId: string): Promise<void> {
      await db.execute(`UPDATE backfill_progress SET announced_at = clock_timestamp() WHERE user_id = $1::bigint`, [userId]);
    },

    /** Every member's progress with estimates (see docs/architecture.md, "History"). */
    async summary(): Promise<HistorySummary> {
      const rows = await db.query<HistoryRow & { paused: boolean }>(
        `SELECT ${COLUMNS}, NOT ${GRANT_WORKS} AS paused FROM backfill_progress b ORDER BY user_id, collection`,
      );
      const byMember = new Map<string, typeof rows>();
      for (const row of rows) byMember.set(row.userId, [...(byMember.get(row.userId) ?? []), row]);
      const members = [...byMember.entries()].map(([userId, own]) => estimate(userId, own));
      return {
        members,
        collectionsIncomplete: members.reduce((sum, member) => sum + member.collectionsIncomplete, 0),
        // A paused history sends nothing until reconnected: its requests are not time the others wait for.
        requestsLeft: members.reduce((sum, member) => sum + (member.paused ? 0 : member.requestsLeft), 0),
        paused: members.filter((member) => member.paused).length,
      };
    },
  };
}

/**
 * A member's progress. The history's start is WHOOP_HISTORY_SINCE when set; otherwise the oldest record of a
 * completed collection (that is where the member's history begins), and before any is complete, three years
 * back. Each incomplete collection counts the share of that span its pages have covered; requests left are
 * its pages so far scaled to the span still to cover.
 */
function estimate(userId: string, rows: Array<HistoryRow & { paused: boolean }>): MemberHistory {
  const bounded = rows[0]!.windowStart.getTime() > HISTORY_FLOOR.getTime();
  const completedOldest = rows.filter((row) => row.completedAt && row.oldestAt).map((row) => row.oldestAt!.getTime());
  const end = Math.max(...rows.map((row) => row.windowEnd.getTime()));
  const start = bounded
    ? rows[0]!.windowStart.getTime()
    : completedOldest.length > 0
      ? Math.min(...completedOldest)
      : Math.min(end - ASSUMED_HISTORY_DAYS * DAY_MS, ...rows.flatMap((row) => (row.oldestAt ? [+row.oldestAt] : [])));
  const span = Math.max(DAY_MS, end - start);
  let share = 0;
  let requestsLeft = 0;
  for (const row of rows) {
    if (row.completedAt) {
      share += 1;
      continue;
    }
    const covered = row.oldestAt ? Math.min(0.99, Math.max(0, (end - row.oldestAt.getTime()) / span)) : 0;
    share += covered;
    requestsLeft += covered > 0
      ? Math.max(1, Math.ceil((row.pages * (1 - covered)) / covered))
      : Math.ceil(span / DAY_MS / DAYS_PER_PAGE) + 1;
  }
  const incomplete = rows.filter((row) => !row.completedAt);
  // Reached in every collection: the newest of their oldest days.
  const reached = rows.every((row) => row.oldestAt) ? Math.max(...rows.map((row) => +row.oldestAt!)) : undefined;
  const completedAt = incomplete.length === 0 ? Math.max(...rows.map((row) => row.completedAt!.getTime())) : undefined;
  return {
    userId,
    since: bounded ? day(rows[0]!.windowStart) : null,
    reached: incomplete.length === 0
      ? (completedOldest.length > 0 ? day(new Date(Math.min(...completedOldest))) : null)
      : reached !== undefined ? day(new Date(reached)) : null,
    complete: incomplete.length === 0,
    percent: incomplete.length === 0 ? 100 : Math.min(99, Math.floor((share / rows.length) * 100)),
    requestsLeft,
    pages: rows.reduce((sum, row) => sum + row.pages, 0),
    records: rows.reduce((sum, row) => sum + row.records, 0),
    collectionsIncomplete: incomplete.length,
    paused: incomplete.length > 0 && rows[0]!.paused,
    startedAt: new Date(Math.min(...rows.map((row) => row.startedAt.getTime()))).toISOString(),
    completedAt: completedAt !== undefined ? new Date(completedAt).toISOString() : null,
  };
}

export type History = ReturnType<typeof history>;

/**
 * The share of WHOOP's budget, of the minute and of the day, the backfill leaves to everything else
 * (schedules, webhooks, /sync, the CLI): a member's /sync typed during a backfill goes out at once instead of
 * waiting for requests of the backfill to leave the minute. Once the day's budget is down to its share, the
 * backfill waits for the next day. Within the rest of the minute it takes pages evenly, not in a burst: a
 * minute's whole budget taken at once would expire at once a minute later (docs/architecture.md).
 */
const RESERVE_SHARE = 0.1;
/** Requests of a minute's budget the backfill leaves to other work (none under 10 a minute). */
export const minuteReserve = (perMinute: number) => Math.floor(perMinute * RESERVE_SHARE);
/** Requests of a day's budget the backfill leaves to other work. */
export const dayReserve = (perDay: number) => Math.ceil(perDay * RESERVE_SHARE);

/** How long what is left takes at WHOOP's limits, for /status, the page at `/`, the dashboard and MCP. */
export interface HistoryTime {
  /** At the backfill's share of the per-minute limit, rounded up. */
  minutesLeft: number;
  /** Days the daily limit stretches it over (1: it fits in today's budget, with what is left for other work). */
  daysLeft: number;
}

export function historyTime(requestsLeft: number, limits: { perMinute: number; perDay: number }): HistoryTime {
  const perDay = Math.max(1, limits.perDay - dayReserve(limits.perDay));
  return {
    minutesLeft: Math.ceil(requestsLeft / (limits.perMinute - minuteReserve(limits.perMinute))),
    daysLeft: Math.max(1, Math.ceil(requestsLeft / perDay)),
  };
}

/** "about 14 min left at WHOOP's limit", or the days the daily limit spreads it over. */
export function timeLeftText(time: HistoryTime): string {
  return time.daysLeft > 1
    ? `about ${time.daysLeft} days left at WHOOP's daily limit`
    : `about ${Math.max(1, time.minutesLeft)} min left at WHOOP's limit`;
}

/**
 * "history: 62 % fetched, back to 2019-03-02 so far, about 14 min left at WHOOP's limit" (or "…, paused until the
 * account is connected again"), or that it is complete: "history since 2013-05-01: complete". While it runs, the
 * date is how far back every collection has reached, not where the history starts.
 */
export function historyLine(member: MemberHistory, time: HistoryTime): string {
  if (member.complete) return member.reached ? `history since ${member.reached}: complete` : 'history: complete (WHOOP had no records)';
  const left = member.paused ? 'paused until the account is connected again' : timeLeftText(time);
  return `history: ${member.percent} % fetched, ${member.reached ? `back to ${member.reached} so far, ` : ''}${left}`;
}
