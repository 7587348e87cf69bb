// What can be exported: the `whoop_daily` view and the four record tables, for one member or all, over a
// range of local dates. The record tables' columns come from their one description in src/sync/resources.ts
// (the raw JSON is left out: every documented field has its own column). Rows are read through a cursor and
// written as CSV (RFC 4180) or a JSON array, a chunk at a time, so a whole history never sits in memory.
import type { Database } from '../db/database.js';
import { RESOURCES } from '../sync/collections.js';
import { RESOURCE_SPECS, type ResourceSpec } from '../sync/resources.js';

export const EXPORT_TABLES = ['daily', ...RESOURCES] as const;
export type ExportTable = (typeof EXPORT_TABLES)[number];
export const EXPORT_FORMATS = ['csv', 'json'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportFilter {
  /** WHOOP user id; undefined: every member. */
  member?: string | undefined;
  /** First and last local date (`YYYY-MM-DD`), both included; undefined: open. */
  from?: string | undefined;
  to?: string | undefined;
}

type ColumnType = 'id' | 'number' | 'text' | 'time' | 'date' | 'bool';

interface ExportSpec {
  source: string;
  columns: ReadonlyArray<readonly [string, ColumnType]>;
  /** SQL of the local date a row belongs to (`t` is the row). */
  localDate: string;
  /** SQL of an indexed time that lies within a day of the local date, to narrow the scan; none for the view. */
  indexedTime?: string;
  order: string;
}

/** Timestamps as ISO 8601 in UTC, ids as text (they may exceed JavaScript's safe integers), the rest as numbers. */
function select(name: string, type: ColumnType): string {
  const column = `t."${name}"`;
  switch (type) {
    case 'id':
      return `${column}::text AS "${name}"`;
    case 'number':
      return `${column}::float8 AS "${name}"`;
    case 'time':
      return `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "${name}"`;
    case 'date':
      return `${column}::text AS "${name}"`;
    default:
      return column;
  }
}

function recordColumns(spec: ResourceSpec<unknown>): Array<readonly [string, ColumnType]> {
  const columns = Object.entries(spec.columns)
    .filter(([name]) => name !== 'raw')
    .map(([name, column]): readonly [string, ColumnType] => {
      if (column.type === 'timestamptz') return [name, 'time'];
      if (column.type === 'uuid' || (column.type === 'bigint' && /(^|_)id$/.test(name))) return [name, 'id'];
      if (column.type === 'bigint' || column.type === 'int4' || column.type === 'float8') return [name, 'number'];
      if (column.type === 'bool') return [name, 'bool'];
      return [name, 'text'];
    });
  return [...columns, ['synced_at', 'time']];
}

const offset = (sql: string) => `COALESCE(NULLIF(${sql}, ''), '+00:00')::interval`;
const localDateOf = (time: string, zone: string) => `((${time} AT TIME ZONE 'UTC') + ${offset(zone)})::date`;

function recordSpec(spec: ResourceSpec<unknown>, zone: string): ExportSpec {
  const time = `t."${spec.timeColumn}"`;
  return {
    source: `"${spec.table}"`,
    columns: recordColumns(spec),
    localDate: localDateOf(time, zone),
    indexedTime: time,
    order: `t."user_id", ${time}, t."${spec.key}"`,
  };
}

const SPECS: Record<ExportTable, ExportSpec> = {
  daily: {
    source: '"whoop_daily"',
    columns: [
      ['user_id', 'id'], ['day', 'date'], ['cycle_id', 'id'], ['cycle_start', 'time'], ['cycle_end', 'time'],
      ['recovery_score_state', 'text'], ['recovery_score', 'number'], ['hrv_rmssd_milli', 'number'],
      ['resting_heart_rate', 'number'], ['spo2_percentage', 'number'], ['skin_temp_celsius', 'number'],
      ['sleep_id', 'id'], ['sleep_score_state', 'text'], ['asleep_milli', 'number'], ['light_sleep_milli', 'number'],
      ['slow_wave_sleep_milli', 'number'], ['rem_sleep_milli', 'number'], ['sleep_needed_milli', 'number'],
      ['sleep_debt_milli', 'number'], ['sleep_performance_percentage', 'number'], ['sleep_efficiency_percentage', 'number'],
      ['cycle_score_state', 'text'], ['day_strain', 'number'], ['workouts', 'number'], ['workout_minutes', 'number'],
    ],
    localDate: 't."day"',
    order: 't."user_id", t."day"',
  },
  cycles: recordSpec(RESOURCE_SPECS.cycles, 't."timezone_offset"'),
  // A recovery has no offset of its own: its cycle's.
  recoveries: recordSpec(RESOURCE_SPECS.recoveries, '(SELECT c."timezone_offset" FROM "whoop_cycles" c WHERE c."id" = t."cycle_id")'),
  sleeps: recordSpec(RESOURCE_SPECS.sleeps, 't."timezone_offset"'),
  workouts: recordSpec(RESOURCE_SPECS.workouts, 't."timezone_offset"'),
};

function exportColumns(table: ExportTable): string[] {
  return SPECS[table].columns.map(([name]) => name);
}

function exportQuery(table: ExportTable, filter: ExportFilter): { sql: string; params: unknown[] } {
  const spec = SPECS[table];
  const conditions = ['($1::bigint IS NULL OR t."user_id" = $1::bigint)'];
  if (spec.indexedTime) {
    // UTC offsets lie within ±14 h: a day either side finds every record of the local dates.
    conditions.push(`($2::date IS NULL OR ${spec.indexedTime} >= $2::date - 1)`, `($3::date IS NULL OR ${spec.indexedTime} < $3::date + 2)`);
  }
  conditions.push(`($2::date IS NULL OR ${spec.localDate} >= $2::date)`, `($3::date IS NULL OR ${spec.localDate} <= $3::date)`);
  return {
    sql: `SELECT ${spec.columns.map(([name, type]) => select(name, type)).join(', ')} FROM ${spec.source} t WHERE ${conditions.join(' AND ')} ORDER BY ${spec.order}`,
    params: [filter.member ?? null, filter.from ?? null, filter.to ?? null],
  };
}

/** One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break, quotes doubled. */
function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

const csvLine = (values: unknown[]) => `${values.map(csvField).join(',')}\r\n`;

/** Bytes gathered before a chunk is handed on: few writes, little memory. */
const CHUNK = 64 * 1024;

/** The export as text chunks, read from the database as they are consumed. */
export async function* exportChunks(
  db: Database,
  table: ExportTable,
  format: ExportFormat,
  filter: ExportFilter,
): AsyncGenerator<string> {
  const names = exportColumns(table);
  const { sql, params } = exportQuery(table, filter);
  let chunk = format === 'csv' ? csvLine(names) : '[';
  let first = true;
  for await (const row of db.stream<Record<string, unknown>>(sql, params)) {
    if (format === 'csv') chunk += csvLine(names.map((name) => row[name]));
    else {
      chunk += `${first ? '\n' : ',\n'}${JSON.stringify(row)}`;
      first = false;
    }
    if (chunk.length >= CHUNK) {
      yield chunk;
      chunk = '';
    }
  }
  yield format === 'csv' ? chunk : `${chunk}${first ? '' : '\n'}]\n`;
}
