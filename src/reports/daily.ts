// Reads the `whoop_daily` view (and, for sports, `whoop_workouts`) for the result message, the digest and the
// report. Numbers come back as JavaScript numbers: int8 and numeric columns are cast in SQL, and the day as text,
// so the pg driver neither returns strings nor shifts a date into the process's timezone.
import type { Database } from '../db/database.js';

export type ScoreState = 'SCORED' | 'PENDING_SCORE' | 'UNSCORABLE';

export interface Member {
  userId: string;
  name: string;
}

export interface DailyRow {
  userId: string;
  /** Local wake-up date, `YYYY-MM-DD`. */
  day: string;
  cycleEnded: boolean;
  recoveryState: ScoreState | null;
  recoveryScore: number | null;
  hrvMs: number | null;
  restingHeartRate: number | null;
  sleepState: ScoreState | null;
  asleepMs: number | null;
  sleepNeededMs: number | null;
  /** WHOOP's `sleep_needed.need_from_sleep_debt_milli`. */
  sleepDebtMs: number | null;
  sleepPerformance: number | null;
  sleepEfficiency: number | null;
  cycleState: ScoreState | null;
  strain: number | null;
  workouts: number;
  workoutMinutes: number;
}

const COLUMNS = `
  d."user_id"::text AS "userId", d."day"::text AS "day", d."cycle_end" IS NOT NULL AS "cycleEnded",
  d."recovery_score_state" AS "recoveryState", d."recovery_score"::float8 AS "recoveryScore",
  d."hrv_rmssd_milli"::float8 AS "hrvMs", d."resting_heart_rate"::float8 AS "restingHeartRate",
  d."sleep_score_state" AS "sleepState", d."asleep_milli"::float8 AS "asleepMs",
  d."sleep_needed_milli"::float8 AS "sleepNeededMs", d."sleep_debt_milli"::float8 AS "sleepDebtMs",
  d."sleep_performance_percentage"::float8 AS "sleepPerformance",
  d."sleep_efficiency_percentage"::float8 AS "sleepEfficiency", d."cycle_score_state" AS "cycleState",
  d."day_strain"::float8 AS "strain", d."workouts"::int AS "workouts", d."workout_minutes"::int AS "workoutMinutes"`;

/** Connected members (every stored WHOOP profile), by name. */
export async function members(db: Database): Promise<Member[]> {
  const rows = await db.query<{ userId: string; firstName: string | null; lastName: string | null }>(
    `SELECT "user_id"::text AS "userId", "first_name" AS "firstName", "last_name" AS "lastName"
     FROM "whoop_users" ORDER BY "first_name", "last_name", "user_id"`,
  );
  return rows.map((row) => ({
    userId: row.userId,
    name: [row.firstName, row.lastName].filter(Boolean).join(' ') || `WHOOP member ${row.userId}`,
  }));
}

/** Every member's days from `fromDay` to `toDay` (inclusive, `YYYY-MM-DD`), oldest first. */
export async function dailyRows(db: Database, fromDay: string, toDay: string): Promise<DailyRow[]> {
  return db.query<DailyRow>(
    `SELECT ${COLUMNS} FROM "whoop_daily" d WHERE d."day" BETWEEN $1::date AND $2::date ORDER BY d."user_id", d."day"`,
    [fromDay, toDay],
  );
}

/** Each member's earliest stored day on or after `fromDay` (`YYYY-MM-DD`), or null when there is none. */
export async function earliestDays(db: Database, fromDay: string): Promise<{ userId: string; day: string | null }[]> {
  return db.query<{ userId: string; day: string | null }>(
    `SELECT u."user_id"::text AS "userId", min(d."day")::text AS "day"
     FROM "whoop_users" u LEFT JOIN "whoop_daily" d ON d."user_id" = u."user_id" AND d."day" >= $1::date
     GROUP BY u."user_id"`,
    [fromDay],
  );
}

export interface LatestValues {
  member: Member;
  /** The member's latest day. */
  latest: DailyRow | undefined;
  /** The latest day whose cycle has ended (its strain is final). */
  lastCompleted: DailyRow | undefined;
}

/** Each member's latest day and latest completed day. */
export async function latestValues(db: Database): Promise<LatestValues[]> {
  const [people, rows] = await Promise.all([
    members(db),
    // Only the days since the earliest member's last completed cycle (a day is at most a day before its
    // cycle's start): the view is then built for a few days instead of the whole history. Its estimated cost
    // stays high, and PostgreSQL's JIT compilation of it took longer than the read (docs/database.md).
    db.transaction(async (session) => {
      await session.query('SET LOCAL jit = off');
      return session.query<DailyRow & { kind: 'latest' | 'completed' }>(
        `WITH "since" AS (
           SELECT min("last")::date - 2 AS "day" FROM (
             SELECT COALESCE(max("start") FILTER (WHERE "end" IS NOT NULL), max("start")) AT TIME ZONE 'UTC' AS "last"
             FROM "whoop_cycles" GROUP BY "user_id") per_member)
         SELECT * FROM (
           SELECT DISTINCT ON (d."user_id") 'latest' AS "kind", ${COLUMNS} FROM "whoop_daily" d
           WHERE d."day" >= (SELECT "day" FROM "since") ORDER BY d."user_id", d."day" DESC) latest
         UNION ALL
         SELECT * FROM (
           SELECT DISTINCT ON (d."user_id") 'completed' AS "kind", ${COLUMNS} FROM "whoop_daily" d
           WHERE d."cycle_end" IS NOT NULL AND d."day" >= (SELECT "day" FROM "since")
           ORDER BY d."user_id", d."day" DESC) completed`,
      );
    }),
  ]);
  return people.map((member) => ({
    member,
    latest: rows.find((row) => row.userId === member.userId && row.kind === 'latest'),
    lastCompleted: rows.find((row) => row.userId === member.userId && row.kind === 'completed'),
  }));
}

export interface SportTotal {
  userId: string;
  sport: string;
  count: number;
  minutes: number;
}

/** Workouts by member and sport whose local start date lies in [fromDay, toDay]. */
export async function workoutsBySport(db: Database, fromDay: string, toDay: string): Promise<SportTotal[]> {
  return db.query<SportTotal>(
    `SELECT "user_id"::text AS "userId", COALESCE(NULLIF("sport_name", ''), 'other') AS "sport",
            count(*)::int AS "count", round(sum(EXTRACT(EPOCH FROM ("end" - "start"))) / 60)::int AS "minutes"
     FROM "whoop_workouts"
     WHERE (("start" AT TIME ZONE 'UTC') + COALESCE(NULLIF(NULLIF("timezone_offset", ''), 'Z'), '+00:00')::interval)::date
           BETWEEN $1::date AND $2::date
     GROUP BY 1, 2 ORDER BY 1, "count" DESC, 2`,
    [fromDay, toDay],
  );
}
