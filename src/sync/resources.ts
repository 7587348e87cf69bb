// How each WHOOP collection maps onto its table: typed columns extracted from the record, the key, and
// the time column that defines a sync window. Writes are set-based: one INSERT … SELECT FROM
// jsonb_to_recordset(…) ON CONFLICT DO UPDATE per batch instead of one round trip per record.
import type { Resource } from '../metrics/metrics.js';
import type { Collection } from '../whoop/api.js';
import {
  cycleSchema,
  recoverySchema,
  sleepSchema,
  workoutSchema,
  type Cycle,
  type Recovery,
  type Sleep,
  type Workout,
} from '../whoop/schemas.js';

type PgType = 'bigint' | 'uuid' | 'text' | 'timestamptz' | 'float8' | 'int4' | 'bool' | 'jsonb';

interface Column {
  type: PgType;
  /** SQL producing the value from the recordset row `x`; defaults to the column itself. */
  select?: string;
}

export interface ResourceSpec<R> {
  name: Resource;
  collection: Collection<any>;
  table: string;
  key: string;
  keyType: 'bigint' | 'uuid';
  /** The column WHOOP filters a window by. */
  timeColumn: string;
  columns: Record<string, Column>;
  toRow(record: R, sleepStarts: ReadonlyMap<string, string>): Record<string, unknown>;
}

const common = (record: Cycle | Recovery | Sleep | Workout) => ({
  user_id: record.user_id,
  score_state: record.score_state,
  raw: record,
  created_at: record.created_at,
  updated_at: record.updated_at,
});

const commonColumns: Record<string, Column> = {
  user_id: { type: 'bigint' },
  score_state: { type: 'text' },
  raw: { type: 'jsonb' },
  created_at: { type: 'timestamptz' },
  updated_at: { type: 'timestamptz' },
};

export const cycles: ResourceSpec<Cycle> = {
  name: 'cycles',
  collection: { path: '/v2/cycle', endpoint: 'cycle', noun: 'cycle', schema: cycleSchema },
  table: 'whoop_cycles',
  key: 'id',
  keyType: 'bigint',
  timeColumn: 'start',
  columns: {
    id: { type: 'bigint' },
    ...commonColumns,
    start: { type: 'timestamptz' },
    end: { type: 'timestamptz' },
    timezone_offset: { type: 'text' },
    strain: { type: 'float8' },
    kilojoule: { type: 'float8' },
    average_heart_rate: { type: 'int4' },
    max_heart_rate: { type: 'int4' },
  },
  toRow: (r) => ({
    id: r.id,
    ...common(r),
    start: r.start,
    end: r.end ?? null,
    timezone_offset: r.timezone_offset ?? null,
    strain: r.score?.strain ?? null,
    kilojoule: r.score?.kilojoule ?? null,
    average_heart_rate: r.score?.average_heart_rate ?? null,
    max_heart_rate: r.score?.max_heart_rate ?? null,
  }),
};

export const sleeps: ResourceSpec<Sleep> = {
  name: 'sleeps',
  collection: { path: '/v2/activity/sleep', endpoint: 'sleep', noun: 'sleep', schema: sleepSchema },
  table: 'whoop_sleeps',
  key: 'id',
  keyType: 'uuid',
  timeColumn: 'start',
  columns: {
    id: { type: 'uuid' },
    ...commonColumns,
    cycle_id: { type: 'bigint' },
    v1_id: { type: 'bigint' },
    start: { type: 'timestamptz' },
    end: { type: 'timestamptz' },
    timezone_offset: { type: 'text' },
    nap: { type: 'bool' },
    total_in_bed_time_milli: { type: 'int4' },
    total_awake_time_milli: { type: 'int4' },
    total_no_data_time_milli: { type: 'int4' },
    total_light_sleep_time_milli: { type: 'int4' },
    total_slow_wave_sleep_time_milli: { type: 'int4' },
    total_rem_sleep_time_milli: { type: 'int4' },
    sleep_cycle_count: { type: 'int4' },
    disturbance_count: { type: 'int4' },
    baseline_milli: { type: 'int4' },
    need_from_sleep_debt_milli: { type: 'int4' },
    need_from_recent_strain_milli: { type: 'int4' },
    need_from_recent_nap_milli: { type: 'int4' },
    respiratory_rate: { type: 'float8' },
    sleep_performance_percentage: { type: 'float8' },
    sleep_consistency_percentage: { type: 'float8' },
    sleep_efficiency_percentage: { type: 'float8' },
  },
  toRow: (r) => {
    const stages = r.score?.stage_summary;
    const need = r.score?.sleep_needed;
    return {
      id: r.id,
      ...common(r),
      cycle_id: r.cycle_id ?? null,
      v1_id: r.v1_id ?? null,
      start: r.start,
      end: r.end,
      timezone_offset: r.timezone_offset ?? null,
      nap: r.nap,
      total_in_bed_time_milli: stages?.total_in_bed_time_milli ?? null,
      total_awake_time_milli: stages?.total_awake_time_milli ?? null,
      total_no_data_time_milli: stages?.total_no_data_time_milli ?? null,
      total_light_sleep_time_milli: stages?.total_light_sleep_time_milli ?? null,
      total_slow_wave_sleep_time_milli: stages?.total_slow_wave_sleep_time_milli ?? null,
      total_rem_sleep_time_milli: stages?.total_rem_sleep_time_milli ?? null,
      sleep_cycle_count: stages?.sleep_cycle_count ?? null,
      disturbance_count: stages?.disturbance_count ?? null,
      baseline_milli: need?.baseline_milli ?? null,
      need_from_sleep_debt_milli: need?.need_from_sleep_debt_milli ?? null,
      need_from_recent_strain_milli: need?.need_from_recent_strain_milli ?? null,
      need_from_recent_nap_milli: need?.need_from_recent_nap_milli ?? null,
      respiratory_rate: r.score?.respiratory_rate ?? null,
      sleep_performance_percentage: r.score?.sleep_performance_percentage ?? null,
      sleep_consistency_percentage: r.score?.sleep_consistency_percentage ?? null,
      sleep_efficiency_percentage: r.score?.sleep_efficiency_percentage ?? null,
    };
  },
};

export const recoveries: ResourceSpec<Recovery> = {
  name: 'recoveries',
  collection: { path: '/v2/recovery', endpoint: 'recovery', noun: 'recovery', schema: recoverySchema },
  table: 'whoop_recoveries',
  key: 'cycle_id',
  keyType: 'bigint',
  // WHOOP filters and orders recoveries by the start of their sleep, which the record does not carry:
  // it comes from the sleeps read in the same sync, or from the stored sleep.
  timeColumn: 'sleep_start',
  columns: {
    cycle_id: { type: 'bigint' },
    ...commonColumns,
    sleep_id: { type: 'uuid' },
    sleep_start: {
      type: 'timestamptz',
      select: `COALESCE(x."sleep_start", (SELECT s."start" FROM "whoop_sleeps" s WHERE s."id" = x."sleep_id"))`,
    },
    user_calibrating: { type: 'bool' },
    recovery_score: { type: 'float8' },
    resting_heart_rate: { type: 'float8' },
    hrv_rmssd_milli: { type: 'float8' },
    spo2_percentage: { type: 'float8' },
    skin_temp_celsius: { type: 'float8' },
  },
  toRow: (r, sleepStarts) => ({
    cycle_id: r.cycle_id,
    ...common(r),
    sleep_id: r.sleep_id ?? null,
    sleep_start: (r.sleep_id && sleepStarts.get(r.sleep_id.toLowerCase())) ?? null,
    user_calibrating: r.score?.user_calibrating ?? null,
    recovery_score: r.score?.recovery_score ?? null,
    resting_heart_rate: r.score?.resting_heart_rate ?? null,
    hrv_rmssd_milli: r.score?.hrv_rmssd_milli ?? null,
    spo2_percentage: r.score?.spo2_percentage ?? null,
    skin_temp_celsius: r.score?.skin_temp_celsius ?? null,
  }),
};

export const workouts: ResourceSpec<Workout> = {
  name: 'workouts',
  collection: { path: '/v2/activity/workout', endpoint: 'workout', noun: 'workout', schema: workoutSchema },
  table: 'whoop_workouts',
  key: 'id',
  keyType: 'uuid',
  timeColumn: 'start',
  columns: {
    id: { type: 'uuid' },
    ...commonColumns,
    v1_id: { type: 'bigint' },
    start: { type: 'timestamptz' },
    end: { type: 'timestamptz' },
    timezone_offset: { type: 'text' },
    sport_name: { type: 'text' },
    sport_id: { type: 'int4' },
    strain: { type: 'float8' },
    average_heart_rate: { type: 'int4' },
    max_heart_rate: { type: 'int4' },
    kilojoule: { type: 'float8' },
    percent_recorded: { type: 'float8' },
    distance_meter: { type: 'float8' },
    altitude_gain_meter: { type: 'float8' },
    altitude_change_meter: { type: 'float8' },
    zone_zero_milli: { type: 'int4' },
    zone_one_milli: { type: 'int4' },
    zone_two_milli: { type: 'int4' },
    zone_three_milli: { type: 'int4' },
    zone_four_milli: { type: 'int4' },
    zone_five_milli: { type: 'int4' },
  },
  toRow: (r) => {
    const zones = r.score?.zone_durations;
    return {
      id: r.id,
      ...common(r),
      v1_id: r.v1_id ?? null,
      start: r.start,
      end: r.end,
      timezone_offset: r.timezone_offset ?? null,
      sport_name: r.sport_name ?? null,
      sport_id: r.sport_id ?? null,
      strain: r.score?.strain ?? null,
      average_heart_rate: r.score?.average_heart_rate ?? null,
      max_heart_rate: r.score?.max_heart_rate ?? null,
      kilojoule: r.score?.kilojoule ?? null,
      percent_recorded: r.score?.percent_recorded ?? null,
      distance_meter: r.score?.distance_meter ?? null,
      altitude_gain_meter: r.score?.altitude_gain_meter ?? null,
      altitude_change_meter: r.score?.altitude_change_meter ?? null,
      zone_zero_milli: zones?.zone_zero_milli ?? null,
      zone_one_milli: zones?.zone_one_milli ?? null,
      zone_two_milli: zones?.zone_two_milli ?? null,
      zone_three_milli: zones?.zone_three_milli ?? null,
      zone_four_milli: zones?.zone_four_milli ?? null,
      zone_five_milli: zones?.zone_five_milli ?? null,
    };
  },
};

const quote = (identifier: string) => `"${identifier}"`;

/** `INSERT … SELECT … FROM jsonb_to_recordset($1) … ON CONFLICT (key) DO UPDATE`, refreshing synced_at. */
export function upsertSql(spec: ResourceSpec<unknown>): string {
  const names = Object.keys(spec.columns);
  const definitions = names.map((name) => `${quote(name)} ${spec.columns[name]!.type}`).join(', ');
  const selects = names.map((name) => spec.columns[name]!.select ?? `x.${quote(name)}`).join(', ');
  const updates = names
    .filter((name) => name !== spec.key)
    .map((name) => `${quote(name)} = EXCLUDED.${quote(name)}`)
    .join(', ');
  return (
    `INSERT INTO ${quote(spec.table)} (${names.map(quote).join(', ')}, "synced_at") ` +
    `SELECT ${selects}, now() FROM jsonb_to_recordset($1::jsonb) AS x(${definitions}) ` +
    `ON CONFLICT (${quote(spec.key)}) DO UPDATE SET ${updates}, "synced_at" = EXCLUDED."synced_at"`
  );
}

/** Deletes an account's records in a window except the given keys: WHOOP no longer returns them. */
export function deleteMissingSql(spec: ResourceSpec<unknown>): string {
  const time = quote(spec.timeColumn);
  return (
    `DELETE FROM ${quote(spec.table)} WHERE "user_id" = $1::bigint AND ${time} >= $2::timestamptz AND ${time} < $3::timestamptz ` +
    `AND ${quote(spec.key)} NOT IN (SELECT value::${spec.keyType} FROM jsonb_array_elements_text($4::jsonb))`
  );
}
