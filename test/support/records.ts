// Reading and resetting the stored WHOOP records of a test database. The record tables are read with SQL,
// by their public column names, as a person querying them does (they have no Prisma models).
import type { Database } from '../../src/db/database.js';

export type WhoopTable = 'whoop_cycles' | 'whoop_recoveries' | 'whoop_sleeps' | 'whoop_workouts';
type Collection = 'cycles' | 'recoveries' | 'sleeps' | 'workouts';
/** WHOOP's list endpoints, by path, and the collection each lists. */
export const LISTS: Record<string, Collection> = {
  '/developer/v2/cycle': 'cycles',
  '/developer/v2/recovery': 'recoveries',
  '/developer/v2/activity/sleep': 'sleeps',
  '/developer/v2/activity/workout': 'workouts',
};
/** Each collection's table. */
export const TABLES: Record<Collection, WhoopTable> = {
  cycles: 'whoop_cycles',
  recoveries: 'whoop_recoveries',
  sleeps: 'whoop_sleeps',
  workouts: 'whoop_workouts',
};
/** A stored row by column name: bigint columns as BigInt, timestamps as Date, raw as parsed JSON. */
type Row = Record<string, any>;

/** `WHERE` for columns equal to the given values (all of them); the column types cast the parameters. */
function where(equal: Record<string, unknown>): { sql: string; params: unknown[] } {
  const names = Object.keys(equal);
  if (names.length === 0) return { sql: '', params: [] };
  return { sql: ` WHERE ${names.map((name, i) => `"${name}" = $${i + 1}`).join(' AND ')}`, params: Object.values(equal) };
}

/** The rows of `table` whose columns equal `equal`, in the order of `orderBy` (a column). */
export function storedRows(
  db: Database,
  table: WhoopTable,
  equal: Record<string, unknown> = {},
  orderBy?: string,
): Promise<Row[]> {
  const { sql, params } = where(equal);
  const order = orderBy ? ` ORDER BY "${orderBy}"` : '';
  return db.prisma.$queryRawUnsafe<Row[]>(`SELECT * FROM ${table}${sql}${order}`, ...params);
}

/** The one row of `table` whose columns equal `equal`; throws when there is none. */
export async function storedRow(db: Database, table: WhoopTable, equal: Record<string, unknown>): Promise<Row> {
  const [row] = await storedRows(db, table, equal);
  if (!row) throw new Error(`no row in ${table} with ${JSON.stringify(equal, (_, v) => (typeof v === 'bigint' ? String(v) : v))}`);
  return row;
}

/** How many rows of `table` have columns equal to `equal`. */
export async function storedCount(
  db: Database,
  table: WhoopTable,
  equal: Record<string, unknown> = {},
): Promise<number> {
  const { sql, params } = where(equal);
  const [row] = await db.prisma.$queryRawUnsafe<{ count: number }[]>(`SELECT count(*)::int AS count FROM ${table}${sql}`, ...params);
  return row!.count;
}

export async function storedIds(db: Database, userId: bigint) {
  const ids = async (table: WhoopTable, key = 'id') => {
    const rows = await db.prisma.$queryRawUnsafe<Row[]>(`SELECT "${key}" AS key FROM ${table} WHERE "user_id" = $1`, userId);
    return rows.map((row) => String(row.key)).sort();
  };
  return {
    cycles: await ids('whoop_cycles'),
    sleeps: await ids('whoop_sleeps'),
    recoveries: await ids('whoop_recoveries', 'cycle_id'),
    workouts: await ids('whoop_workouts'),
  };
}

/** Empties the record tables and the run history (the connected account stays). */
export async function clearRecords(db: Database): Promise<void> {
  await db.prisma.$executeRawUnsafe('TRUNCATE whoop_cycles, whoop_recoveries, whoop_sleeps, whoop_workouts, sync_runs');
}
