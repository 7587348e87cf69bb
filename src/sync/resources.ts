// The four WHOOP collections and their tables, one table of columns per collection. Each column is either a
// field of the WHOOP record (its type, whether WHOOP always sends it, the object it is nested in) or derived
// from the record. From that table follow the validation of WHOOP's answers (src/whoop/schemas.ts), the
// row each record becomes and the upsert that writes it: a new WHOOP field is one line here plus the
// migration adding its column. Writes are set-based: one INSERT … SELECT FROM jsonb_to_recordset(…)
// ON CONFLICT DO UPDATE per batch instead of one round trip per record.
import type { z } from 'zod';
import type { SqlSession } from '../db/database.js';
import type { Collection } from '../whoop/api.js';
import { checks, recordSchema } from '../whoop/schemas.js';
import type { Resource } from './collections.js';

type PgType = 'bigint' | 'uuid' | 'text' | 'timestamptz' | 'float8' | 'int4' | 'bool' | 'jsonb';
type FieldType = Exclude<PgType, 'jsonb'>;

/** What a checked WHOOP value of each column type is in the record. */
interface Values {
  bigint: number;
  int4: number;
  float8: number;
  text: string;
  uuid: string;
  timestamptz: string;
  bool: boolean;
}

const CHECKS: Record<FieldType, z.ZodType> = {
  bigint: checks.int,
  int4: checks.int,
  float8: checks.number,
  text: checks.string,
  uuid: checks.guid,
  timestamptz: checks.dateTime,
  bool: checks.boolean,
};

/** A column holding the record's field of the same name. */
interface FieldColumn<
  T extends FieldType = FieldType,
  Required extends boolean = boolean,
  Under extends string | undefined = string | undefined,
> {
  type: T;
  /** WHOOP always sends it (NOT NULL); optional fields arrive absent or null and are stored as NULL. */
  required: Required;
  /** The object the field is nested in, e.g. `score.stage_summary`; undefined at the top level. */
  under: Under;
  check: z.ZodType;
  /**
   * The value the typed column gets from a checked one: null for a value outside WHOOP's documented range, so
   * queries, the whoop_daily view and reports never use it. The raw record keeps it as WHOOP sent it.
   */
  usable?: (value: any) => unknown;
}

/** A column computed from the record (and, for recoveries, the starts of their sleeps). */
interface DerivedColumn {
  type: PgType;
  required: boolean;
  value: (record: any, sleepStarts: ReadonlyMap<string, string>) => unknown;
  /** SQL producing the stored value from the recordset row `x`; defaults to the column itself. */
  select?: string;
}

type Column = FieldColumn | DerivedColumn;

function required<T extends FieldType>(type: T, check: z.ZodType = CHECKS[type]): FieldColumn<T, true, undefined> {
  return { type, required: true, under: undefined, check };
}

function optional<T extends FieldType>(type: T): FieldColumn<T, false, undefined>;
function optional<T extends FieldType, U extends string>(type: T, under: U): FieldColumn<T, false, U>;
function optional(type: FieldType, under?: string): FieldColumn {
  return { type, required: false, under, check: CHECKS[type] };
}

/** The column, holding only values from `min` to `max` (inclusive). */
function within<C extends FieldColumn>(column: C, min: number, max = Infinity): C {
  return { ...column, usable: (value: number) => (value >= min && value <= max ? value : null) };
}

/** WHOOP's UTC offsets: `±hh:mm` within ±14:00, or `Z` (stored as +00:00). */
export function utcOffset(value: string): string | null {
  if (value === 'Z' || value === 'z') return '+00:00';
  const match = /^[+-](\d\d):([0-5]\d)$/.exec(value);
  return match && Number(match[1]) * 60 + Number(match[2]) <= 14 * 60 ? value : null;
}

/** A timezone_offset column: an offset SQL cannot use as an interval, or one out of range, is stored as NULL. */
const offset = () => ({ ...optional('text'), usable: utcOffset });

const PERCENT = [0, 100] as const;
/** WHOOP's strain scale. */
const STRAIN = [0, 21] as const;

/** The record as the sync code sees it: its top-level fields typed, the rest (scores) as stored. */
type TopLevel = FieldColumn<FieldType, boolean, undefined>;
type Value<C> =
  C extends FieldColumn<infer T, infer R, undefined> ? (R extends true ? Values[T] : Values[T] | null | undefined)
  : never;
type WhoopRecord<C> = { readonly [K in keyof C as C[K] extends TopLevel ? K : never]: Value<C[K]> } & {
  readonly [field: string]: unknown;
};

export interface ResourceSpec<R> {
  name: Resource;
  collection: Collection<z.ZodType<R>>;
  table: string;
  key: string;
  keyType: 'bigint' | 'uuid';
  /** The column WHOOP filters a window by. */
  timeColumn: string;
  columns: Readonly<Record<string, Column>>;
  /** Each column's value in a record, in the order of `columns`. */
  values: ReadonlyArray<readonly [string, DerivedColumn['value']]>;
}

/** The value of the field at `path`: stored as NULL when it, or an object it is nested in, is absent or null. */
function fieldValue(path: readonly string[]): DerivedColumn['value'] {
  return (record) => {
    let value = record;
    for (const name of path) {
      value = value?.[name];
      if (value == null) return null;
    }
    return value;
  };
}

function usableValue(value: DerivedColumn['value'], usable: FieldColumn['usable']): DerivedColumn['value'] {
  if (!usable) return value;
  return (record, sleepStarts) => {
    const checked = value(record, sleepStarts);
    return checked === null ? null : usable(checked);
  };
}

function resource<C extends Record<string, Column>>(spec: {
  name: Resource;
  collection: Omit<Collection<z.ZodType>, 'schema'>;
  table: string;
  key: keyof C & string;
  timeColumn: keyof C & string;
  columns: C;
}): ResourceSpec<WhoopRecord<C>> {
  const fields = Object.entries(spec.columns).flatMap(([name, column]) =>
    'check' in column ? [{ name, path: [...(column.under?.split('.') ?? []), name], ...column }] : [],
  );
  const keyType = spec.columns[spec.key]!.type;
  if (keyType !== 'bigint' && keyType !== 'uuid') throw new Error(`${spec.table}: the key must be a bigint or a uuid`);
  return {
    ...spec,
    collection: { ...spec.collection, schema: recordSchema(fields) as z.ZodType<WhoopRecord<C>> },
    keyType,
    values: Object.entries(spec.columns).map(([name, column]) => [
      name,
      'check' in column ? usableValue(fieldValue([...(column.under?.split('.') ?? []), name]), column.usable) : column.value,
    ]),
  };
}

/** Columns every WHOOP record has. */
const common = {
  user_id: required('bigint'),
  score_state: required('text', checks.scoreState),
  raw: { type: 'jsonb', required: true, value: (record) => record } satisfies DerivedColumn,
  created_at: required('timestamptz'),
  updated_at: required('timestamptz'),
};

export const cycles = resource({
  name: 'cycles',
  collection: { path: '/v2/cycle', endpoint: 'cycle', noun: 'cycle' },
  table: 'whoop_cycles',
  key: 'id',
  timeColumn: 'start',
  columns: {
    id: required('bigint'),
    ...common,
    start: required('timestamptz'),
    end: optional('timestamptz'),
    timezone_offset: offset(),
    strain: within(optional('float8', 'score'), ...STRAIN),
    kilojoule: optional('float8', 'score'),
    average_heart_rate: optional('int4', 'score'),
    max_heart_rate: optional('int4', 'score'),
  },
});

export const sleeps = resource({
  name: 'sleeps',
  collection: { path: '/v2/activity/sleep', endpoint: 'sleep', noun: 'sleep' },
  table: 'whoop_sleeps',
  key: 'id',
  timeColumn: 'start',
  columns: {
    id: required('uuid'),
    ...common,
    cycle_id: optional('bigint'),
    v1_id: optional('bigint'),
    start: required('timestamptz'),
    end: required('timestamptz'),
    timezone_offset: offset(),
    nap: required('bool'),
    total_in_bed_time_milli: optional('int4', 'score.stage_summary'),
    total_awake_time_milli: optional('int4', 'score.stage_summary'),
    total_no_data_time_milli: optional('int4', 'score.stage_summary'),
    total_light_sleep_time_milli: optional('int4', 'score.stage_summary'),
    total_slow_wave_sleep_time_milli: optional('int4', 'score.stage_summary'),
    total_rem_sleep_time_milli: optional('int4', 'score.stage_summary'),
    sleep_cycle_count: optional('int4', 'score.stage_summary'),
    disturbance_count: optional('int4', 'score.stage_summary'),
    baseline_milli: optional('bigint', 'score.sleep_needed'),
    need_from_sleep_debt_milli: optional('bigint', 'score.sleep_needed'),
    need_from_recent_strain_milli: optional('bigint', 'score.sleep_needed'),
    need_from_recent_nap_milli: optional('bigint', 'score.sleep_needed'),
    respiratory_rate: optional('float8', 'score'),
    sleep_performance_percentage: within(optional('float8', 'score'), ...PERCENT),
    sleep_consistency_percentage: within(optional('float8', 'score'), ...PERCENT),
    sleep_efficiency_percentage: within(optional('float8', 'score'), ...PERCENT),
  },
});

export const recoveries = resource({
  name: 'recoveries',
  collection: { path: '/v2/recovery', endpoint: 'recovery', noun: 'recovery' },
  table: 'whoop_recoveries',
  key: 'cycle_id',
  // WHOOP filters and orders recoveries by the start of their sleep, which the record does not carry:
  // it comes from the sleeps read in the same sync, or from the stored sleep.
  timeColumn: 'sleep_start',
  columns: {
    cycle_id: required('bigint'),
    ...common,
    sleep_id: optional('uuid'),
    sleep_start: {
      type: 'timestamptz',
      required: false,
      value: (r, sleepStarts) => (r.sleep_id && sleepStarts.get(r.sleep_id.toLowerCase())) ?? null,
      select: `COALESCE(x."sleep_start", (SELECT s."start" FROM "whoop_sleeps" s WHERE s."id" = x."sleep_id"))`,
    } satisfies DerivedColumn,
    user_calibrating: optional('bool', 'score'),
    recovery_score: within(optional('float8', 'score'), ...PERCENT),
    resting_heart_rate: optional('float8', 'score'),
    hrv_rmssd_milli: within(optional('float8', 'score'), 0),
    spo2_percentage: within(optional('float8', 'score'), ...PERCENT),
    skin_temp_celsius: optional('float8', 'score'),
  },
});

export const workouts = resource({
  name: 'workouts',
  collection: { path: '/v2/activity/workout', endpoint: 'workout', noun: 'workout' },
  table: 'whoop_workouts',
  key: 'id',
  timeColumn: 'start',
  columns: {
    id: required('uuid'),
    ...common,
    v1_id: optional('bigint'),
    start: required('timestamptz'),
    end: required('timestamptz'),
    timezone_offset: offset(),
    sport_name: optional('text'),
    sport_id: optional('int4'),
    strain: within(optional('float8', 'score'), ...STRAIN),
    average_heart_rate: optional('int4', 'score'),
    max_heart_rate: optional('int4', 'score'),
    kilojoule: optional('float8', 'score'),
    percent_recorded: within(optional('float8', 'score'), ...PERCENT),
    distance_meter: optional('float8', 'score'),
    altitude_gain_meter: optional('float8', 'score'),
    altitude_change_meter: optional('float8', 'score'),
    zone_zero_milli: optional('bigint', 'score.zone_durations'),
    zone_one_milli: optional('bigint', 'score.zone_durations'),
    zone_two_milli: optional('bigint', 'score.zone_durations'),
    zone_three_milli: optional('bigint', 'score.zone_durations'),
    zone_four_milli: optional('bigint', 'score.zone_durations'),
    zone_five_milli: optional('bigint', 'score.zone_durations'),
  },
});

/** Each collection's table, by resource name. */
export const RESOURCE_SPECS: Record<Resource, ResourceSpec<any>> = { cycles, recoveries, sleeps, workouts };

export type Cycle = z.infer<typeof cycles.collection.schema>;
export type Recovery = z.infer<typeof recoveries.collection.schema>;
export type Sleep = z.infer<typeof sleeps.collection.schema>;
export type Workout = z.infer<typeof workouts.collection.schema>;

/** The typed columns of one record, as the JSON object jsonb_to_recordset reads. */
export function toRow<R>(
  spec: ResourceSpec<R>,
  record: R,
  sleepStarts: ReadonlyMap<string, string>,
): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  for (const [name, value] of spec.values) row[name] = value(record, sleepStarts);
  return row;
}

const quote = (identifier: string) => `"${identifier}"`;

/** `INSERT … SELECT … FROM jsonb_to_recordset($1) … ON CONFLICT (key) DO UPDATE`, refreshing synced_at. */
export function upsertSql(spec: ResourceSpec<unknown>): string {
  const names = Object.keys(spec.columns);
  const definitions = names.map((name) => `${quote(name)} ${spec.columns[name]!.type}`).join(', ');
  const selects = names.map((name) => {
    const column = spec.columns[name]!;
    return ('select' in column && column.select) || `x.${quote(name)}`;
  });
  const updates = names
    .filter((name) => name !== spec.key)
    .map((name) => `${quote(name)} = EXCLUDED.${quote(name)}`)
    .join(', ');
  return (
    `INSERT INTO ${quote(spec.table)} (${names.map(quote).join(', ')}, "synced_at") ` +
    `SELECT ${selects.join(', ')}, now() FROM jsonb_to_recordset($1::jsonb) AS x(${definitions}) ` +
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

/** Deletes every record of an account (the account leaves: see src/members/forget.ts). */
export async function deleteAccountRecords(
  session: SqlSession,
  spec: ResourceSpec<unknown>,
  userId: bigint,
): Promise<number> {
  const [row] = await session.query<{ count: number }>(
    `WITH gone AS (DELETE FROM ${quote(spec.table)} WHERE "user_id" = $1::bigint RETURNING 1) SELECT count(*)::int AS count FROM gone`,
    [userId.toString()],
  );
  return row!.count;
}
