// prisma/schema.prisma and the hand-written SQL migrations must describe the same database. Prisma's own
// schema parser (the WASM build the CLI uses) reads the schema; the catalog of a freshly migrated database
// gives the other side; both are reduced to the same shape and compared.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/database.js';
import { applyMigrations } from '../../src/db/migrate.js';
import { cycles, recoveries, sleeps, toRow, upsertSql, workouts } from '../../src/sync/resources.js';
import { parseResponse } from '../../src/whoop/schemas.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { storedCount, storedRow, type WhoopTable } from '../support/records.js';

const require = createRequire(import.meta.url);
const { get_dmmf: getDmmf } = require('@prisma/prisma-schema-wasm') as { get_dmmf(params: string): string };

interface DmmfField {
  name: string;
  dbName?: string | null;
  kind: 'scalar' | 'enum' | 'object';
  type: string;
  isRequired: boolean;
  isList: boolean;
  hasDefaultValue: boolean;
  nativeType: [string, string[]] | null;
  relationFromFields?: string[];
  relationToFields?: string[];
  relationOnDelete?: string;
}
interface DmmfModel {
  name: string;
  dbName: string | null;
  fields: DmmfField[];
}
interface Dmmf {
  datamodel: {
    models: DmmfModel[];
    enums: { name: string; dbName: string | null; values: { name: string; dbName: string | null }[] }[];
    indexes: { model: string; type: string; fields: { name: string; sortOrder?: string }[] }[];
  };
}

interface TableShape {
  columns: Record<string, string>;
  primaryKey: string[];
  indexes: string[];
  foreignKeys: string[];
}
interface Shape {
  tables: Record<string, TableShape>;
  enums: Record<string, string[]>;
}

const SCALAR_TYPES: Record<string, string> = {
  String: 'text',
  Int: 'int4',
  BigInt: 'int8',
  Float: 'float8',
  Boolean: 'bool',
  DateTime: 'timestamp(3)',
  Json: 'jsonb',
};
const NATIVE_TYPES: Record<string, (args: string[]) => string> = {
  Uuid: () => 'uuid',
  Timestamptz: (args) => `timestamptz(${args[0] ?? 6})`,
};

async function schemaShape(): Promise<Shape> {
  const schema = await readFile(new URL('../../prisma/schema.prisma', import.meta.url), 'utf8');
  const dmmf = JSON.parse(getDmmf(JSON.stringify({ prismaSchema: [['schema.prisma', schema]] }))) as Dmmf;
  const enumDbNames = new Map(dmmf.datamodel.enums.map((e) => [e.name, e.dbName ?? e.name]));
  const models = new Map(dmmf.datamodel.models.map((model) => [model.name, model]));
  const column = (model: DmmfModel, fieldName: string) => {
    const field = model.fields.find((f) => f.name === fieldName);
    if (!field) throw new Error(`${model.name}.${fieldName} not found`);
    return field.dbName ?? field.name;
  };
  const tables: Record<string, TableShape> = {};
  for (const model of dmmf.datamodel.models) {
    const table: TableShape = { columns: {}, primaryKey: [], indexes: [], foreignKeys: [] };
    for (const field of model.fields) {
      if (field.kind === 'object') {
        if (field.relationFromFields?.length) {
          const target = models.get(field.type)!;
          table.foreignKeys.push(
            `${field.relationFromFields.map((f) => column(model, f)).join(',')} -> ${target.dbName ?? target.name}(` +
              `${field.relationToFields!.map((f) => column(target, f)).join(',')}) on delete ${(field.relationOnDelete ?? 'restrict').toLowerCase()}`,
          );
        }
        continue;
      }
      const type =
        field.kind === 'enum'
          ? enumDbNames.get(field.type)!
          : field.nativeType
            ? NATIVE_TYPES[field.nativeType[0]]!(field.nativeType[1])
            : SCALAR_TYPES[field.type]!;
      table.columns[field.dbName ?? field.name] =
        `${type}${field.isList ? '[]' : ''} ${field.isRequired ? 'not null' : 'null'}${field.hasDefaultValue ? ' default' : ''}`;
    }
    for (const index of dmmf.datamodel.indexes.filter((i) => i.model === model.name)) {
      const columns = index.fields.map((f) => `${column(model, f.name)}${f.sortOrder === 'desc' ? ' desc' : ''}`).join(', ');
      if (index.type === 'id') table.primaryKey = index.fields.map((f) => column(model, f.name));
      else table.indexes.push(`${index.type === 'unique' ? 'unique ' : ''}(${columns})`);
    }
    table.indexes.sort();
    table.foreignKeys.sort();
    tables[model.dbName ?? model.name] = table;
  }
  const enums = Object.fromEntries(
    dmmf.datamodel.enums.map((e) => [e.dbName ?? e.name, e.values.map((v) => v.dbName ?? v.name)]),
  );
  return { tables, enums };
}

// The WHOOP record tables have no Prisma models: their columns are the column tables the sync writes them
// with (src/sync/resources.ts), plus synced_at; their keys and indexes are pinned here.
const RECORD_SPECS = [cycles, recoveries, sleeps, workouts];
const RECORD_INDEXES: Record<string, string[]> = {
  whoop_cycles: ['(synced_at desc)', '(user_id, start desc)'],
  whoop_recoveries: ['(user_id, sleep_start desc)'],
  whoop_sleeps: ['(user_id, start desc)'],
  whoop_workouts: ['(user_id, start desc)'],
};
const COLUMN_TYPES: Record<string, string> = {
  bigint: 'int8',
  int4: 'int4',
  float8: 'float8',
  text: 'text',
  uuid: 'uuid',
  bool: 'bool',
  jsonb: 'jsonb',
  timestamptz: 'timestamptz(3)',
};

function recordTableShapes(): Record<string, TableShape> {
  return Object.fromEntries(
    RECORD_SPECS.map((spec) => {
      const columns = Object.fromEntries(
        Object.entries(spec.columns).map(([name, c]) => [name, `${COLUMN_TYPES[c.type]} ${c.required ? 'not null' : 'null'}`]),
      );
      columns.synced_at = 'timestamptz(3) not null';
      return [spec.table, { columns, primaryKey: [spec.key], indexes: RECORD_INDEXES[spec.table]!, foreignKeys: [] }];
    }),
  );
}

async function databaseShape(db: Database): Promise<Shape> {
  const q = <T>(sql: string) => db.prisma.$queryRawUnsafe<T[]>(sql);
  const columns = await q<{ table_name: string; column_name: string; udt_name: string; datetime_precision: number | null; is_nullable: string; column_default: string | null }>(`
    SELECT table_name, column_name, udt_name, datetime_precision, is_nullable, column_default
    FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> '_prisma_migrations'
      AND table_name IN (SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE')
    ORDER BY table_name, ordinal_position`);
  const indexes = await q<{ table_name: string; is_primary: boolean; is_unique: boolean; columns: string[]; descending: boolean[] }>(`
    SELECT t.relname AS table_name, ix.indisprimary AS is_primary, ix.indisunique AS is_unique,
           array_agg(a.attname::text ORDER BY k.ord) AS columns,
           array_agg((ix.indoption[k.ord - 1] & 1) = 1 ORDER BY k.ord) AS descending
    FROM pg_index ix
    JOIN pg_class i ON i.oid = ix.indexrelid
    JOIN pg_class t ON t.oid = ix.indrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace
    CROSS JOIN LATERAL unnest(ix.indkey) WITH ORDINALITY AS k(attnum, ord)
    JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
    WHERE n.nspname = 'public' AND t.relname <> '_prisma_migrations'
    GROUP BY t.relname, i.relname, ix.indisprimary, ix.indisunique`);
  const foreignKeys = await q<{ table_name: string; columns: string[]; target: string; target_columns: string[]; on_delete: string }>(`
    SELECT c.conrelid::regclass::text AS table_name, c.confrelid::regclass::text AS target,
           (SELECT array_agg(attname::text ORDER BY ord) FROM unnest(c.conkey) WITH ORDINALITY k(n, ord)
              JOIN pg_attribute ON attrelid = c.conrelid AND attnum = k.n) AS columns,
           (SELECT array_agg(attname::text ORDER BY ord) FROM unnest(c.confkey) WITH ORDINALITY k(n, ord)
              JOIN pg_attribute ON attrelid = c.confrelid AND attnum = k.n) AS target_columns,
           CASE c.confdeltype WHEN 'c' THEN 'cascade' WHEN 'n' THEN 'setnull' WHEN 'd' THEN 'setdefault'
                              WHEN 'r' THEN 'restrict' ELSE 'noaction' END AS on_delete
    FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
    WHERE c.contype = 'f' AND n.nspname = 'public'`);
  const enumRows = await q<{ name: string; value: string }>(`
    SELECT t.typname AS name, e.enumlabel AS value FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid
    ORDER BY t.typname, e.enumsortorder`);

  const tables: Record<string, TableShape> = {};
  const table = (name: string) => (tables[name] ??= { columns: {}, primaryKey: [], indexes: [], foreignKeys: [] });
  for (const c of columns) {
    const isArray = c.udt_name.startsWith('_');
    const base = isArray ? c.udt_name.slice(1) : c.udt_name;
    const type = base === 'timestamptz' || base === 'timestamp' ? `${base}(${c.datetime_precision})` : base;
    table(c.table_name).columns[c.column_name] =
      `${type}${isArray ? '[]' : ''} ${c.is_nullable === 'NO' ? 'not null' : 'null'}${c.column_default !== null ? ' default' : ''}`;
  }
  for (const index of indexes) {
    if (index.is_primary) {
      table(index.table_name).primaryKey = index.columns;
      continue;
    }
    const cols = index.columns.map((name, i) => `${name}${index.descending[i] ? ' desc' : ''}`).join(', ');
    table(index.table_name).indexes.push(`${index.is_unique ? 'unique ' : ''}(${cols})`);
  }
  for (const fk of foreignKeys) {
    table(fk.table_name).foreignKeys.push(`${fk.columns.join(',')} -> ${fk.target}(${fk.target_columns.join(',')}) on delete ${fk.on_delete}`);
  }
  for (const t of Object.values(tables)) {
    t.indexes.sort();
    t.foreignKeys.sort();
  }
  const enums: Record<string, string[]> = {};
  for (const row of enumRows) (enums[row.name] ??= []).push(row.value);
  return { tables, enums };
}

describe('schema.prisma and the migrations', () => {
  let testDb: TestDatabase;
  let db: Database;
  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = await openDatabase(testDb);
    await applyMigrations(db);
  });
  afterAll(async () => {
    await db?.close();
    await testDb?.drop();
  });

  it('describe the same tables, columns, types, keys, indexes and enums', async () => {
    const expected = await schemaShape();
    Object.assign(expected.tables, recordTableShapes());
    expect(Object.keys(expected.tables).sort()).toEqual([
      'backfill_progress', 'dashboard_sessions', 'digest_posts', 'member_mcp_tokens', 'member_tickets', 'members', 'oauth_states', 'schedule_slots', 'seen_signatures', 'sync_runs',
      'webhook_events', 'whoop_budget', 'whoop_cycles', 'whoop_recoveries', 'whoop_requests', 'whoop_sleeps', 'whoop_tokens', 'whoop_users',
      'whoop_workouts',
    ]);
    expect(await databaseShape(db)).toEqual(expected);
  });

  it('lets the generated client write and read every model', async () => {
    const now = new Date();
    const user = await db.prisma.whoopUser.create({ data: { userId: 10129n, firstName: 'Jo', heightMeter: 1.8, bodyRaw: { a: 1 } } });
    await db.prisma.whoopToken.create({
      data: { userId: user.userId, accessToken: 'a', refreshToken: 'r', expiresAt: now, obtainedAt: now },
    });
    const run = await db.prisma.syncRun.create({ data: { trigger: 'cli', days: 3 } });
    expect(run.status).toBe('queued');
    const token = await db.prisma.whoopToken.findUniqueOrThrow({ where: { userId: 10129n }, include: { user: true } });
    expect(token.status).toBe('active');
    expect(token.user.heightMeter).toBe(1.8);
    await db.prisma.whoopUser.delete({ where: { userId: 10129n } });
    expect(await db.prisma.whoopToken.count()).toBe(0);
  });

  it('let the upsert of each WHOOP collection write a record', async () => {
    const at = new Date().toISOString();
    const common = { user_id: 10129, created_at: at, updated_at: at, score_state: 'PENDING_SCORE' };
    const sleepId = 'ecfc6a15-4661-442f-a9a4-f160dd7afae8';
    const records = [
      [cycles, { ...common, id: 93845, start: at }, { id: 93845n }],
      [sleeps, { ...common, id: sleepId, start: at, end: at, nap: false }, { id: sleepId }],
      [recoveries, { ...common, cycle_id: 93845, sleep_id: sleepId }, { cycle_id: 93845n }],
      [workouts, { ...common, id: '1943c2f8-3a1f-4e4b-8b5c-1e2a3b4c5d6e', start: at, end: at }, { id: '1943c2f8-3a1f-4e4b-8b5c-1e2a3b4c5d6e' }],
    ] as const;
    for (const [spec, record, key] of records) {
      const row = toRow<any>(spec, parseResponse(spec.collection.schema, record, spec.collection.noun), new Map());
      expect(await db.execute(upsertSql(spec), [JSON.stringify([row])])).toBe(1);
      expect(await storedCount(db, spec.table as WhoopTable, key)).toBe(1);
    }
    expect((await storedRow(db, 'whoop_recoveries', { cycle_id: 93845n })).sleep_start).toEqual(new Date(at));
  });
});
