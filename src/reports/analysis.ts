// Questions over a member's days (the `whoop_daily` view) and records, answered in SQL for the MCP tools: the
// latest values with their baselines, a metric's trend, two periods side by side, the correlation of two
// metrics, workouts by sport, and sleep. Days are `YYYY-MM-DD` WHOOP days (the local date the member woke
// up on, see the view's migration); ranges include both ends. Each question is one statement.
import type { Database } from '../db/database.js';

interface Metric {
  /** SQL over the view's row `d`: the value, NULL where the day has none. */
  sql: string;
  unit: string;
  description: string;
}

const HOURS = (column: string) => `(d."${column}" / 3600000.0)`;
/** Strain and workouts of a day are final once its cycle has ended: the day in progress is left out. */
const ENDED = (sql: string) => `CASE WHEN d."cycle_end" IS NOT NULL THEN ${sql} END`;

export const METRICS = {
  recovery_pct: { sql: 'd."recovery_score"', unit: '%', description: 'recovery score, 0–100 %' },
  hrv_ms: { sql: 'd."hrv_rmssd_milli"', unit: 'ms', description: 'heart-rate variability (RMSSD) during sleep, ms (typically 20–150)' },
  resting_hr_bpm: { sql: 'd."resting_heart_rate"', unit: 'bpm', description: 'resting heart rate, beats per minute' },
  spo2_pct: { sql: 'd."spo2_percentage"', unit: '%', description: 'blood oxygen during sleep, % (WHOOP 4.0 and later)' },
  skin_temp_c: { sql: 'd."skin_temp_celsius"', unit: '°C', description: 'skin temperature during sleep, °C' },
  sleep_hours: { sql: HOURS('asleep_milli'), unit: 'h', description: 'time asleep in the main sleep (light + deep + REM), hours' },
  sleep_need_hours: { sql: HOURS('sleep_needed_milli'), unit: 'h', description: 'sleep WHOOP says was needed, hours' },
  sleep_debt_hours: { sql: HOURS('sleep_debt_milli'), unit: 'h', description: 'part of the sleep need that came from sleep debt, hours' },
  sleep_performance_pct: { sql: 'd."sleep_performance_percentage"', unit: '%', description: 'sleep performance (asleep vs needed), 0–100 %' },
  sleep_efficiency_pct: { sql: 'd."sleep_efficiency_percentage"', unit: '%', description: 'sleep efficiency (asleep vs in bed), 0–100 %' },
  day_strain: { sql: ENDED('d."day_strain"'), unit: 'strain', description: 'day strain on WHOOP\'s 0–21 scale (completed days only)' },
  workout_minutes: { sql: ENDED('d."workout_minutes"::float8'), unit: 'min', description: 'minutes of workouts started in the day (completed days only; 0 on days without)' },
} as const satisfies Record<string, Metric>;

export type MetricName = keyof typeof METRICS;
export const METRIC_NAMES = Object.keys(METRICS) as [MetricName, ...MetricName[]];

/** The member's days in [from, to] (the view, narrowed to one member before it is computed). */
const DAYS = `SELECT * FROM "whoop_daily" WHERE "user_id" = $1::bigint AND "day" BETWEEN $2::date AND $3::date`;

const round = (value: number | null, decimals: number) =>
  value === null || !Number.isFinite(value) ? null : Math.round(value * 10 ** decimals) / 10 ** decimals;

export interface Period {
  from: string;
  to: string;
}

export interface DailyTable {
  columns: string[];
  rows: unknown[][];
}

/** The member's days in the period, oldest first, as columns and rows. */
export async function dailyTable(db: Database, userId: string, period: Period): Promise<DailyTable> {
  const names = METRIC_NAMES;
  const rows = await db.query<Record<string, number | string | null>>(
    `SELECT d."day"::text AS "day", ${names.map((name) => `(${METRICS[name].sql})::float8 AS "${name}"`).join(', ')},
            d."workouts"::int AS "workouts"
     FROM (${DAYS}) d ORDER BY d."day"`,
    [userId, period.from, period.to],
  );
  const columns = ['day', ...names, 'workouts'];
  return { columns, rows: rows.map((row) => columns.map((column) => (typeof row[column] === 'number' ? round(row[column], 2) : row[column]))) };
}

export interface Trend extends Period {
  metric: MetricName;
  unit: string;
  days_with_value: number;
  mean: number | null;
  min: number | null;
  min_day: string | null;
  max: number | null;
  max_day: string | null;
  /** Least-squares slope of the value against the day, per week. */
  slope_per_week: number | null;
  previous_period: Period & { days_with_value: number; mean: number | null };
  change_vs_previous: number | null;
  change_vs_previous_pct: number | null;
}

/** A metric over the period, and against the period of the same length just before it. */
export async function trend(db: Database, userId: string, metric: MetricName, period: Period): Promise<Trend> {
  const [row] = await db.query<{
    n: number; mean: number | null; min: number | null; minDay: string | null;
    max: number | null; maxDay: string | null;
    slope: number | null; prevFrom: string; prevTo: string; prevN: number; prevMean: number | null;
  }>(
    `WITH span AS (SELECT $3::date - $2::date + 1 AS days),
     v AS (
       SELECT d."day", (${METRICS[metric].sql})::float8 AS value
       FROM "whoop_daily" d, span
       WHERE d."user_id" = $1::bigint AND d."day" BETWEEN $2::date - span.days AND $3::date
     ),
     cur AS (SELECT * FROM v WHERE "day" >= $2::date AND value IS NOT NULL),
     prev AS (SELECT * FROM v WHERE "day" < $2::date AND value IS NOT NULL)
     SELECT (SELECT count(*)::int FROM cur) AS n, (SELECT avg(value) FROM cur) AS mean,
            (SELECT min(value) FROM cur) AS min, (SELECT "day"::text FROM cur ORDER BY value, "day" LIMIT 1) AS "minDay",
            (SELECT max(value) FROM cur) AS max, (SELECT "day"::text FROM cur ORDER BY value DESC, "day" LIMIT 1) AS "maxDay",
            (SELECT regr_slope(value, "day" - $2::date) * 7 FROM cur) AS slope,
            ($2::date - span.days)::text AS "prevFrom", ($2::date - 1)::text AS "prevTo",
            (SELECT count(*)::int FROM prev) AS "prevN", (SELECT avg(value) FROM prev) AS "prevMean"
     FROM span`,
    [userId, period.from, period.to],
  );
  const r = row!;
  const change = r.mean !== null && r.prevMean !== null ? r.mean - r.prevMean : null;
  return {
    metric,
    unit: METRICS[metric].unit,
    ...period,
    days_with_value: r.n,
    mean: round(r.mean, 2),
    min: round(r.min, 2),
    min_day: r.minDay,
    max: round(r.max, 2),
    max_day: r.maxDay,
    slope_per_week: round(r.slope, 3),
    previous_period: { from: r.prevFrom, to: r.prevTo, days_with_value: r.prevN, mean: round(r.prevMean, 2) },
    change_vs_previous: round(change, 2),
    change_vs_previous_pct: change !== null && r.prevMean ? round((change / r.prevMean) * 100, 1) : null,
  };
}

export interface PeriodComparison {
  a: Period;
  b: Period;
  columns: string[];
  rows: unknown[][];
}

/** Every metric's mean in period a and in period b, and the change from a to b. */
export async function comparePeriods(db: Database, userId: string, a: Period, b: Period): Promise<PeriodComparison> {
  const [row] = await db.query<Record<string, number | null>>(
    `SELECT ${METRIC_NAMES.map(
      (name) =>
        `(avg(${METRICS[name].sql}) FILTER (WHERE d."day" BETWEEN $2::date AND $3::date))::float8 AS "a_${name}",
         count(${METRICS[name].sql}) FILTER (WHERE d."day" BETWEEN $2::date AND $3::date)::int AS "an_${name}",
         (avg(${METRICS[name].sql}) FILTER (WHERE d."day" BETWEEN $4::date AND $5::date))::float8 AS "b_${name}",
         count(${METRICS[name].sql}) FILTER (WHERE d."day" BETWEEN $4::date AND $5::date)::int AS "bn_${name}"`,
    ).join(',\n')}
     FROM "whoop_daily" d
     WHERE d."user_id" = $1::bigint AND (d."day" BETWEEN $2::date AND $3::date OR d."day" BETWEEN $4::date AND $5::date)`,
    [userId, a.from, a.to, b.from, b.to],
  );
  const r = row!;
  return {
    a,
    b,
    columns: ['metric', 'unit', 'a_mean', 'a_days', 'b_mean', 'b_days', 'change', 'change_pct'],
    rows: METRIC_NAMES.map((name) => {
      const [am, bm] = [r[`a_${name}`] ?? null, r[`b_${name}`] ?? null];
      const change = am !== null && bm !== null ? bm - am : null;
      return [name, METRICS[name].unit, round(am, 2), r[`an_${name}`], round(bm, 2), r[`bn_${name}`], round(change, 2),
        change !== null && am ? round((change / am) * 100, 1) : null];
    }),
  };
}

export interface Correlation extends Period {
  x: MetricName;
  y: MetricName;
  lag_days: number;
  /** Pearson's r of x on day d and y on day d + lag_days, over the days d in the period with both. */
  r: number | null;
  n: number;
}

export async function correlate(
  db: Database,
  userId: string,
  x: MetricName,
  y: MetricName,
  lagDays: number,
  period: Period,
): Promise<Correlation> {
  const [row] = await db.query<{ r: number | null; n: number }>(
    `WITH v AS (
       SELECT d."day", (${METRICS[x].sql})::float8 AS x, (${METRICS[y].sql})::float8 AS y
       FROM "whoop_daily" d WHERE d."user_id" = $1::bigint AND d."day" BETWEEN $2::date AND $3::date + $4::int
     )
     SELECT corr(a.x, b.y) AS r, count(a.x + b.y)::int AS n
     FROM v a JOIN v b ON b."day" = a."day" + $4::int
     WHERE a."day" <= $3::date`,
    [userId, period.from, period.to, lagDays],
  );
  return { x, y, lag_days: lagDays, ...period, r: round(row!.r, 3), n: row!.n };
}

export interface SportSummary {
  sport: string;
  workouts: number;
  total_minutes: number;
  mean_strain: number | null;
  max_strain: number | null;
  mean_heart_rate_bpm: number | null;
  distance_km: number | null;
  zone_minutes: number[];
}

/** The local date of a record's start, by its own timezone offset. */
const localStartDate = (table: string) =>
  `((${table}."start" AT TIME ZONE 'UTC') + COALESCE(NULLIF(${table}."timezone_offset", ''), '+00:00')::interval)::date`;

/** Workouts started (local date) in the period, by sport, most frequent first. */
export async function workoutsBySport(
  db: Database,
  userId: string,
  period: Period,
  sport?: string,
): Promise<SportSummary[]> {
  const zones = ['zero', 'one', 'two', 'three', 'four', 'five'];
  const rows = await db.query<Record<string, number | string | null>>(
    `SELECT COALESCE(NULLIF(w."sport_name", ''), 'other') AS sport, count(*)::int AS workouts,
            (sum(EXTRACT(EPOCH FROM (w."end" - w."start"))) / 60)::float8 AS minutes,
            avg(w."strain")::float8 AS "meanStrain", max(w."strain")::float8 AS "maxStrain", avg(w."average_heart_rate")::float8 AS hr,
            (sum(w."distance_meter") / 1000)::float8 AS km,
            ${zones.map((zone) => `(sum(w."zone_${zone}_milli") / 60000.0)::float8 AS "z_${zone}"`).join(', ')}
     FROM "whoop_workouts" w
     WHERE w."user_id" = $1::bigint AND w."start" >= $2::date - 1 AND w."start" < $3::date + 2
       AND ${localStartDate('w')} BETWEEN $2::date AND $3::date
       AND ($4::text IS NULL OR lower(w."sport_name") = lower($4::text))
     GROUP BY 1 ORDER BY workouts DESC, sport`,
    [userId, period.from, period.to, sport ?? null],
  );
  return rows.map((row) => ({
    sport: row.sport as string,
    workouts: row.workouts as number,
    total_minutes: round(row.minutes as number, 0)!,
    mean_strain: round(row.meanStrain as number | null, 2),
    max_strain: round(row.maxStrain as number | null, 2),
    mean_heart_rate_bpm: round(row.hr as number | null, 0),
    distance_km: round(row.km as number | null, 2),
    zone_minutes: zones.map((zone) => round(row[`z_${zone}`] as number | null, 0) ?? 0),
  }));
}

export interface SleepSummary extends Period {
  nights: number;
  mean_asleep_hours: number | null;
  mean_light_hours: number | null;
  mean_deep_hours: number | null;
  mean_rem_hours: number | null;
  mean_need_hours: number | null;
  mean_debt_hours: number | null;
  mean_performance_pct: number | null;
  mean_efficiency_pct: number | null;
  shortest: { day: string; asleep_hours: number } | null;
  longest: { day: string; asleep_hours: number } | null;
}

/** The main sleeps (one per WHOOP day) of the period. */
export async function sleepSummary(db: Database, userId: string, period: Period): Promise<SleepSummary> {
  const [row] = await db.query<Record<string, number | string | null>>(
    `WITH s AS (SELECT * FROM (${DAYS}) d WHERE d."asleep_milli" IS NOT NULL)
     SELECT count(*)::int AS nights, avg(${HOURS('asleep_milli')})::float8 AS asleep, avg(${HOURS('light_sleep_milli')})::float8 AS light,
            avg(${HOURS('slow_wave_sleep_milli')})::float8 AS deep, avg(${HOURS('rem_sleep_milli')})::float8 AS rem,
            avg(${HOURS('sleep_needed_milli')})::float8 AS need, avg(${HOURS('sleep_debt_milli')})::float8 AS debt,
            avg(d."sleep_performance_percentage")::float8 AS performance, avg(d."sleep_efficiency_percentage")::float8 AS efficiency,
            (SELECT "day"::text FROM s d ORDER BY "asleep_milli", "day" LIMIT 1) AS "shortDay",
            (SELECT (min("asleep_milli") / 3600000.0)::float8 FROM s) AS "short",
            (SELECT "day"::text FROM s d ORDER BY "asleep_milli" DESC, "day" LIMIT 1) AS "longDay",
            (SELECT (max("asleep_milli") / 3600000.0)::float8 FROM s) AS "long"
     FROM s d`,
    [userId, period.from, period.to],
  );
  const r = row!;
  const n = (key: string, decimals = 2) => round(r[key] as number | null, decimals);
  return {
    ...period,
    nights: r.nights as number,
    mean_asleep_hours: n('asleep'),
    mean_light_hours: n('light'),
    mean_deep_hours: n('deep'),
    mean_rem_hours: n('rem'),
    mean_need_hours: n('need'),
    mean_debt_hours: n('debt'),
    mean_performance_pct: n('performance', 1),
    mean_efficiency_pct: n('efficiency', 1),
    shortest: r.shortDay ? { day: r.shortDay as string, asleep_hours: n('short')! } : null,
    longest: r.longDay ? { day: r.longDay as string, asleep_hours: n('long')! } : null,
  };
}

interface LatestMetric {
  day: string;
  value: number;
  /** Mean over the 30 days before `day`. */
  baseline_30d: number | null;
  baseline_days: number;
}

/** Each member's latest value of the headline metrics (the latest day that has one), with its 30-day baseline. */
type LatestValues = Partial<Record<MetricName, LatestMetric>>;

export async function latestWithBaselines(db: Database): Promise<Map<string, LatestValues>> {
  const headline: MetricName[] = ['recovery_pct', 'hrv_ms', 'resting_hr_bpm', 'sleep_hours', 'sleep_performance_pct', 'day_strain'];
  const rows = await db.query<{
    userId: string; metric: MetricName; day: string; value: number; baseline: number | null; n: number;
  }>(
    `WITH recent AS MATERIALIZED (SELECT * FROM "whoop_daily")
     ${headline
       .map(
         (name) => `(SELECT l."user_id"::text AS "userId", '${name}' AS metric, l."day"::text AS day, l.value,
            (SELECT avg(${METRICS[name].sql})::float8 FROM recent d WHERE d."user_id" = l."user_id" AND d."day" >= l."day" - 30 AND d."day" < l."day")::float8 AS baseline,
            (SELECT count(${METRICS[name].sql}) FROM recent d WHERE d."user_id" = l."user_id" AND d."day" >= l."day" - 30 AND d."day" < l."day")::int AS n
          FROM (SELECT DISTINCT ON (d."user_id") d."user_id", d."day", (${METRICS[name].sql})::float8 AS value
                FROM recent d WHERE (${METRICS[name].sql}) IS NOT NULL ORDER BY d."user_id", d."day" DESC) l)`,
       )
       .join('\nUNION ALL\n')}`,
  );
  const byMember = new Map<string, LatestValues>();
  for (const row of rows) {
    const entry = byMember.get(row.userId) ?? {};
    const value = round(row.value, 2)!;
    entry[row.metric] = { day: row.day, value, baseline_30d: round(row.baseline, 2), baseline_days: row.n };
    byMember.set(row.userId, entry);
  }
  return byMember;
}
