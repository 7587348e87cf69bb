// How each WHOOP collection maps onto its table: typed columns extracted from the record, the key, and
// the time column that defines a sync window. Writes are set-based: one INSERT … SELECT FROM
// jsonb_to_recordset(…) ON CONFLICT DO UPDATE per batch instead of one round trip per record.
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
import type { Resource } from './collections.js';

type PgType = 'bigint' | 'uuid' | 'text' | 'timestamptz' | 'float8' | 'int4' | 'bool' | 'jsonb';

interface Column<R> {
  type: PgType;
  /** The column's value, taken from the WHOOP record (and, for recoveries, the starts of their sleeps). */
  value: (record: R, sleepStarts: ReadonlyMap<string, string>) => unknown;
  /** SQL producing the stored value from the recordset row `x`; defaults to the column itself. */
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
  columns: Record<string, Column<R>>;
}

type Scored = Cycle | Recovery | Sleep | Workout;

/** Columns every WHOOP record has. */
function commonColumns<R extends Scored>(): Record<string, Column<R>> {
  return {
    user_id: { type: 'bigint', value: (r) => r.user_id },
    score_state: { type: 'text', value: (r) => r.score_state },
    raw: { type: 'jsonb', value: (r) => r },
    created_at: { type: 'timestamptz', value: (r) => r.created_at },
    updated_at: { type: 'timestamptz', value: (r) => r.updated_at },
  };
}

/** Optional values arrive absent or as explicit null: both are stored as NULL. */
const optional = (value: unknown) => value ?? null;

export const cycles: ResourceSpec<Cycle> = {
  name: 'cycles',
  collection: { path: '/v2/cycle', endpoint: 'cycle', noun: 'cycle', schema: cycleSchema },
  table: 'whoop_cycles',
  key: 'id',
  keyType: 'bigint',
  timeColumn: 'start',
  columns: {
    id: { type: 'bigint', value: (r) => r.id },
    ...commonColumns<Cycle>(),
    start: { type: 'timestamptz', value: (r) => r.start },
    end: { type: 'timestamptz', value: (r) => optional(r.end) },
    timezone_offset: { type: 'text', value: (r) => optional(r.timezone_offset) },
    strain: { type: 'float8', value: (r) => optional(r.score?.strain) },
    kilojoule: { type: 'float8', value: (r) => optional(r.score?.kilojoule) },
    average_heart_rate: { type: 'int4', value: (r) => optional(r.score?.average_heart_rate) },
    max_heart_rate: { type: 'int4', value: (r) => optional(r.score?.max_heart_rate) },
  },
};

const stage = (r: Sleep) => r.score?.stage_summary;
const need = (r: Sleep) => r.score?.sleep_needed;

export const sleeps: ResourceSpec<Sleep> = {
  name: 'sleeps',
  collection: { path: '/v2/activity/sleep', endpoint: 'sleep', noun: 'sleep', schema: sleepSchema },
  table: 'whoop_sleeps',
  key: 'id',
  keyType: 'uuid',
  timeColumn: 'start',
  columns: {
    id: { type: 'uuid', value: (r) => r.id },
    ...commonColumns<Sleep>(),
    cycle_id: { type: 'bigint', value: (r) => optional(r.cycle_id) },
    v1_id: { type: 'bigint', value: (r) => optional(r.v1_id) },
    start: { type: 'timestamptz', value: (r) => r.start },
    end: { type: 'timestamptz', value: (r) => r.end },
    timezone_offset: { type: 'text', value: (r) => optional(r.timezone_offset) },
    nap: { type: 'bool', value: (r) => r.nap },
    total_in_bed_time_milli: { type: 'int4', value: (r) => optional(stage(r)?.total_in_bed_time_milli) },
    total_awake_time_milli: { type: 'int4', value: (r) => optional(stage(r)?.total_awake_time_milli) },
    total_no_data_time_milli: { type: 'int4', value: (r) => optional(stage(r)?.total_no_data_time_milli) },
    total_light_sleep_time_milli: { type: 'int4', value: (r) => optional(stage(r)?.total_light_sleep_time_milli) },
    total_slow_wave_sleep_time_milli: { type: 'int4', value: (r) => optional(stage(r)?.total_slow_wave_sleep_time_milli) },
    total_rem_sleep_time_milli: { type: 'int4', value: (r) => optional(stage(r)?.total_rem_sleep_time_milli) },
    sleep_cycle_count: { type: 'int4', value: (r) => optional(stage(r)?.sleep_cycle_count) },
    disturbance_count: { type: 'int4', value: (r) => optional(stage(r)?.disturbance_count) },
    baseline_milli: { type: 'bigint', value: (r) => optional(need(r)?.baseline_milli) },
    need_from_sleep_debt_milli: { type: 'bigint', value: (r) => optional(need(r)?.need_from_sleep_debt_milli) },
    need_from_recent_strain_milli: { type: 'bigint', value: (r) => optional(need(r)?.need_from_recent_strain_milli) },
    need_from_recent_nap_milli: { type: 'bigint', value: (r) => optional(need(r)?.need_from_recent_nap_milli) },
    respiratory_rate: { type: 'float8', value: (r) => optional(r.score?.respiratory_rate) },
    sleep_performance_percentage: { type: 'float8', value: (r) => optional(r.score?.sleep_performance_percentage) },
    sleep_consistency_percentage: { type: 'float8', value: (r) => optional(r.score?.sleep_consistency_percentage) },
    sleep_efficiency_percentage: { type: 'float8', value: (r) => optional(r.score?.sleep_efficiency_percentage) },
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
    cycle_id: { type: 'bigint', value: (r) => r.cycle_id },
    ...commonColumns<Recovery>(),
    sleep_id: { type: 'uuid', value: (r) => optional(r.sleep_id) },
    sleep_start: {
      type: 'timestamptz',
      value: (r, sleepStarts) => (r.sleep_id && sleepStarts.get(r.sleep_id.toLowerCase())) ?? null,
      select: `COALESCE(x."sleep_start", (SELECT s."start" FROM "whoop_sleeps" s WHERE s."id" = x."sleep_id"))`,
    },
    user_calibrating: { type: 'bool', value: (r) => optional(r.score?.user_calibrating) },
    recovery_score: { type: 'float8', value: (r) => optional(r.score?.recovery_score) },
    resting_heart_rate: { type: 'float8', value: (r) => optional(r.score?.resting_heart_rate) },
    hrv_rmssd_milli: { type: 'float8', value: (r) => optional(r.score?.hrv_rmssd_milli) },
    spo2_percentage: { type: 'float8', value: (r) => optional(r.score?.spo2_percentage) },
    skin_temp_celsius: { type: 'float8', value: (r) => optional(r.score?.skin_temp_celsius) },
  },
};

const zone = (r: Workout) => r.score?.zone_durations;

export const workouts: ResourceSpec<Workout> = {
  name: 'workouts',
  collection: { path: '/v2/activity/workout', endpoint: 'workout', noun: 'workout', schema: workoutSchema },
  table: 'whoop_workouts',
  key: 'id',
  keyType: 'uuid',
  timeColumn: 'start',
  columns: {
    id: { type: 'uuid', value: (r) => r.id },
    ...commonColumns<Workout>(),
    v1_id: { type: 'bigint', value: (r) => optional(r.v1_id) },
    start: { type: 'timestamptz', value: (r) => r.start },
    end: { type: 'timestamptz', value: (r) => r.end },
    timezone_offset: { type: 'text', value: (r) => optional(r.timezone_offset) },
    sport_name: { type: 'text', value: (r) => optional(r.sport_name) },
    sport_id: { type: 'int4', value: (r) => optional(r.sport_id) },
    strain: { type: 'float8', value: (r) => optional(r.score?.strain) },
    average_heart_rate: { type: 'int4', value: (r) => optional(r.score?.average_heart_rate) },
    max_heart_rate: { type: 'int4', value: (r) => optional(r.score?.max_heart_rate) },
    kilojoule: { type: 'float8', value: (r) => optional(r.score?.kilojoule) },
    percent_recorded: { type: 'float8', value: (r) => optional(r.score?.percent_recorded) },
    distance_meter: { type: 'float8', value: (r) => optional(r.score?.distance_meter) },
    altitude_gain_meter: { type: 'float8', value: (r) => optional(r.score?.altitude_gain_meter) },
    altitude_change_meter: { type: 'float8', value: (r) => optional(r.score?.altitude_change_meter) },
    zone_zero_milli: { type: 'bigint', value: (r) => optional(zone(r)?.zone_zero_milli) },
    zone_one_milli: { type: 'bigint', value: (r) => optional(zone(r)?.zone_one_milli) },
    zone_two_milli: { type: 'bigint', value: (r) => optional(zone(r)?.zone_two_milli) },
    zone_three_milli: { type: 'bigint', value: (r) => optional(zone(r)?.zone_three_milli) },
    zone_four_milli: { type: 'bigint', value: (r) => optional(zone(r)?.zone_four_milli) },
    zone_five_milli: { type: 'bigint', value: (r) => optional(zone(r)?.zone_five_milli) },
  },
};

/** The typed columns of one record, as the JSON object jsonb_to_recordset reads. */
export function toRow<R>(
  spec: ResourceSpec<R>,
  record: R,
  sleepStarts: ReadonlyMap<string, string>,
): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  for (const [name, column] of Object.entries(spec.columns)) row[name] = column.value(record, sleepStarts);
  return row;
}

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
