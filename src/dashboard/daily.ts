// Reading the whoop_daily view for the dashboard: one member's days over a range, with the means of HRV and
// resting heart rate over the 30 days ending on each day. The means are computed over the member's whole history
// (not only the range), so the first day of a 30-day range still has a mean of the 30 days before it; each mean
// comes with the number of days it covers, and is left out below MIN_BASELINE_DAYS days carrying the value.
import type { DailyPoint, DayRange } from '../charts/dashboard.js';
import type { Database } from '../db/database.js';
import { MIN_BASELINE_DAYS } from '../reports/insights.js';

/** The ranges the dashboard offers, in days. */
export const RANGES = [30, 90, 365] as const;
export type Range = (typeof RANGES)[number];

// The mean window counts calendar days (RANGE over the date), so missing days do not stretch it.
const DAILY_SQL = `
WITH "history" AS (
  SELECT
    "day",
    "recovery_score", "hrv_rmssd_milli", "resting_heart_rate",
    CASE WHEN count("hrv_rmssd_milli") OVER "last_30_days" >= $3 THEN avg("hrv_rmssd_milli") OVER "last_30_days" END AS "hrv_mean",
    CASE WHEN count("resting_heart_rate") OVER "last_30_days" >= $3 THEN avg("resting_heart_rate") OVER "last_30_days" END
      AS "resting_heart_rate_mean",
    count(*) OVER "last_30_days" AS "mean_days",
    "light_sleep_milli", "slow_wave_sleep_milli", "rem_sleep_milli",
    "sleep_performance_percentage", "day_strain", "workouts", "workout_minutes"
  FROM "whoop_daily"
  WHERE "user_id" = $1 AND "day" > $2::date - 30
  WINDOW "last_30_days" AS (ORDER BY "day" RANGE BETWEEN INTERVAL '29 days' PRECEDING AND CURRENT ROW)
)
SELECT
  to_char("day", 'YYYY-MM-DD') AS "day",
  "recovery_score"::float8 AS "recoveryScore",
  "hrv_rmssd_milli"::float8 AS "hrv",
  "hrv_mean"::float8 AS "hrvMean",
  "resting_heart_rate"::float8 AS "restingHeartRate",
  "resting_heart_rate_mean"::float8 AS "restingHeartRateMean",
  "mean_days"::int AS "meanDays",
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
 * The days of a range that ends today: the `range` local dates up to and including today in `timezone`
 * (SYNC_TIMEZONE, the zone the schedules and digests use), as first and last day.
 */
export function rangeDays(range: Range, timezone: string, now: Date): DayRange {
  const today = new Intl.DateTimeFormat('en-CA', { timeZone: timezone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(now);
  const start = new Date(`${today}T00:00:00Z`);
  start.setUTCDate(start.getUTCDate() - (range - 1));
  return { from: start.toISOString().slice(0, 10), to: today };
}

export function dailyPoints(db: Database) {
  return {
    /** The member's days from `from` (YYYY-MM-DD) on, oldest first. */
    since: (userId: bigint, from: string) =>
      db.query<DailyPoint>(DAILY_SQL, [userId.toString(), from, MIN_BASELINE_DAYS]),
  };
}
