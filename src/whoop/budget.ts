// WHOOP's budget: 100 requests a minute and 10,000 a day per app (WHOOP_RATE_LIMIT_PER_MINUTE/_PER_DAY),
// shared by every member, trigger and process. The only module that reads or writes whoop_requests (one
// row per request sent in the last day) and whoop_budget (what WHOOP last said is left). Kept in the
// database so that every process, the CLI and a restarted service count the same requests.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Database } from '../db/database.js';
import { DAY_MS } from '../util/time.js';

export interface BudgetLimits {
  perMinute: number;
  perDay: number;
}

export interface BudgetLeft {
  minute: number;
  day: number;
}

/**
 * The minute is counted a second longer than WHOOP's: our clock starts when the request leaves, WHOOP's
 * when it arrives, so a request sent exactly a minute after another may reach WHOOP a little earlier.
 */
const MINUTE_MS = 61_000;

/** Serializes takes across processes: the row lock of whoop_budget's one row. */
const LOCK = `SELECT remaining, reported_at, reset_at, clock_timestamp() AS now FROM whoop_budget WHERE id = 1 FOR UPDATE`;
const USAGE = `
  SELECT count(*) FILTER (WHERE at > $1::timestamptz - make_interval(secs => ${MINUTE_MS / 1000}))::int AS minute,
         min(at) FILTER (WHERE at > $1::timestamptz - make_interval(secs => ${MINUTE_MS / 1000})) AS minute_oldest,
         count(*)::int AS day, min(at) AS day_oldest,
         count(*) FILTER (WHERE at > $2::timestamptz)::int AS since_report
  FROM whoop_requests WHERE at > $1::timestamptz - interval '1 day'`;

type Usage = { minute: number; minute_oldest: Date | null; day: number; day_oldest: Date | null; since_report: number };
type Reported = { remaining: number | null; reported_at: Date | null; reset_at: Date | null; now: Date };

export function whoopBudget(db: Database, limits: BudgetLimits) {
  /** How long until one more request fits (0: now), and what is left. */
  function assess(usage: Usage, reported: Reported): { waitMs: number; left: BudgetLeft } {
    const now = reported.now.getTime();
    const reportStands = reported.reset_at !== null && reported.reset_at.getTime() > now;
    const whoopSays = reportStands ? (reported.remaining ?? 0) - usage.since_report : Infinity;
    const minute = Math.max(0, Math.min(limits.perMinute - usage.minute, whoopSays));
    const left = { minute, day: Math.max(0, limits.perDay - usage.day) };
    const waits = [
      usage.minute >= limits.perMinute && usage.minute_oldest ? usage.minute_oldest.getTime() + MINUTE_MS - now : 0,
      usage.day >= limits.perDay && usage.day_oldest ? usage.day_oldest.getTime() + DAY_MS - now : 0,
      whoopSays <= 0 ? reported.reset_at!.getTime() - now : 0,
    ];
    return { waitMs: Math.max(0, ...waits), left };
  }

  async function read(take: boolean): Promise<{ waitMs: number; left: BudgetLeft }> {
    return db.transaction(async (session) => {
      const [reported] = await session.query<Reported>(LOCK);
      const [usage] = await session.query<Usage>(USAGE, [reported!.now, reported!.reported_at ?? reported!.now]);
      const verdict = assess(usage!, reported!);
      if (take && verdict.waitMs === 0) {
        await session.query(`DELETE FROM whoop_requests WHERE at < $1::timestamptz - interval '1 day'`, [reported!.now]);
        await session.query(`INSERT INTO whoop_requests (at) VALUES ($1)`, [reported!.now]);
      }
      return verdict;
    });
  }

  return {
    limits,

    /** Waits until the budget allows one more request and counts it; throws when `signal` aborts first. */
    async take(signal?: AbortSignal): Promise<void> {
      for (;;) {
        signal?.throwIfAborted();
        const { waitMs } = await read(true);
        if (waitMs === 0) return;
        await sleep(waitMs, undefined, { signal });
      }
    },

    /**
     * What WHOOP said in its answer: `remaining` requests until `resetSeconds` from now (X-RateLimit-*),
     * or, after a 429, none until Retry-After.
     */
    async observe(remaining: number, resetSeconds: number): Promise<void> {
      await db.execute(
        `UPDATE whoop_budget SET remaining = $1, reported_at = clock_timestamp(),
           reset_at = clock_timestamp() + make_interval(secs => $2) WHERE id = 1`,
        [remaining, resetSeconds],
      );
    },

    /** What is left of this minute's and this day's budget, for /status and /metrics. */
    left: async (): Promise<BudgetLeft> => (await read(false)).left,
  };
}

export type WhoopBudget = ReturnType<typeof whoopBudget>;
