// Reading the whoop_daily view for the dashboard: one member's days over a range, with the 30-day means of
// HRV and resting heart rate. The means are computed over the member's whole history (not only the range),
// so the first day of a 30-day range still has a mean of the 30 days before it.
import type { DailyPoint } from '../charts/dashboard.js';
import type { Database } from '../db/database.js';

/** The ranges the dashboard offers, in days. */
export const RANGES = [30, 90, 365] as const;
export type Range = (typeof RANGES)[number];

// The mean window counts calendar days (RANGE over the date), so missing days do not stretch it.
const DAILY_SQL = `
WITH "history" AS (
  SELECT
    "day",
    "recovery_score", "hrv_rmssd_milli", "resting_heart_rate",
    avg("hrv_rmssd_milli") OVER "last_30_days" AS "hrv_mean_30",
    avg("resting_heart_rate") OVER "last_30_days" AS "resting_heart_rate_mean_30",
    "light_sleep_milli", "slow_wave_sleep_milli", "rem_sleep_milli",
    "sleep_performance_percentage", "day_strain", "workouts", "workout_minutes"
  FROM "whoop_daily"
  WHERE "user_id" = $1 AND "day" > $2::date - 29
  WINDOW "last_30_days" AS (ORDER BY "day" RANGE BETWEEN INTERVAL '29 days' PRECEDING AND CURRENT ROW)
)
SELECT
  to_char("day", 'YYYY-MM-DD') AS "day",
  "recovery_score"::float8 AS "recoveryScore",
  "hrv_rmssd_milli"::float8 AS "hrv",
  "hrv_mean_30"::float8 AS "hrvMean30",
  "resting_heart_rate"::float8 AS "restingHeartRate",
  "resting_heart_rate_mean_30"::float8 AS "restingHeartRateMean30",
  ("light_sleep_milli" / 3600000.0)::float8 AS "lightSleepHours",
  ("slow_wave_sleep_milli" / 3600000.0)::float8 AS "slowWaveSleepHours",
  ("rem_sleep_milli" / 3600000.0)::float8 AS "remSleepHours",
  "sleep_performance_percentage"::float8 AS "sleepPerformance",
  "day_strain"::float8 AS "strain",
  COALESCE("workouts", 0)::int AS "workouts",
  COALESCE("workout_minutes", 0)::int AS "workoutMinutes"
FROM "history"
WHERE "day" >= $2::date
ORDER BY "day"`;

/**
 * The first day of a range that ends today: the `range` local dates up to and including today in
 * `timezone` (SYNC_TIMEZONE, the zone the schedules and digests use).
 */
export function rangeStart(range: Range, timezone: string, now: Date): string {
  const today = new Intl.DateTimeFormat('en-CA', { timeZone: timezone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(now);
  const start = new Date(`${today}T00:00:00Z`);
  start.setUTCDate(start.getUTCDate() - (range - 1));
  return start.toISOString().slice(0, 10);
}

export function dailyPoints(db: Database) {
  return {
    /** The member's days from `from` (YYYY-MM-DD) on, oldest first. */
    since: (userId: bigint, from: string) => db.query<DailyPoint>(DAILY_SQL, [userId.toString(), from]),
  };
}
