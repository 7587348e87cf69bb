import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/db/database.js';
import { applyMigrations, MigrationError, readMigrations, type Migration } from '../../src/db/migrate.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

const TABLES = [
  'backfill_progress', 'dashboard_sessions', 'digest_posts', 'member_mcp_tokens', 'member_tickets', 'members', 'oauth_states', 'schedule_slots', 'seen_signatures', 'sync_runs',
  'webhook_events', 'whoop_budget', 'whoop_cycles', 'whoop_daily', 'whoop_recoveries', 'whoop_requests', 'whoop_sleeps', 'whoop_tokens',
  'whoop_users', 'whoop_workouts',
];

async function tables(db: Database): Promise<string[]> {
  const rows = await db.prisma.$queryRaw<{ table_name: string }[]>`
    SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`;
  return rows.map((row) => row.table_name);
}

async function recorded(db: Database) {
  return db.prisma.$queryRaw<{ migration_name: string; checksum: string; finished_at: Date | null; applied_steps_count: number }[]>`
    SELECT migration_name, checksum, finished_at, applied_steps_count FROM "_prisma_migrations" ORDER BY migration_name`;
}

describe('migrations', () => {
  let testDb: TestDatabase;
  let db: Database;
  let files: Migration[];

  beforeAll(async () => {
    testDb = await createTestDatabase();
    db = await openDatabase(testDb);
    files = await readMigrations();
  });
  afterAll(async () => {
    await db?.close();
    await testDb?.drop();
  });

  it('creates every table on an empty database and records each migration the way Prisma does', async () => {
    expect(await tables(db)).toEqual([]);
    const applied = await applyMigrations(db);
    expect(applied).toEqual(files.map((file) => file.name));
    expect(applied.length).toBeGreaterThan(0);
    expect(await tables(db)).toEqual(['_prisma_migrations', ...TABLES]);
    const rows = await recorded(db);
    expect(rows.map((row) => row.migration_name)).toEqual(applied);
    for (const [index, row] of rows.entries()) {
      expect(row.checksum).toMatch(/^[0-9a-f]{64}$/);
      expect(row.checksum).toBe(files[index]?.checksum);
      expect(row.finished_at).toBeInstanceOf(Date);
      expect(row.applied_steps_count).toBe(1);
    }
  });

  it('applies nothing twice on a restart', async () => {
    const before = await recorded(db);
    expect(await applyMigrations(db)).toEqual([]);
    await db.close();
    db = await openDatabase(testDb);
    expect(await applyMigrations(db)).toEqual([]);
    expect(await recorded(db)).toEqual(before);
  });

  it('refuses to start when an applied migration file was changed, naming it', async () => {
    const [first, ...rest] = files as [Migration, ...Migration[]];
    const tampered = [{ ...first, sql: `${first.sql}\n-- edited`, checksum: 'f'.repeat(64) }, ...rest];
    const error = await applyMigrations(db, tampered).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationError);
    expect((error as Error).message).toContain(`Migration ${first.name} was modified after it was applied`);
  });

  it('refuses a database migrated by a newer version', async () => {
    const error = await applyMigrations(db, files.slice(1)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationError);
    expect((error as Error).message).toContain(`Migration ${files[0]?.name} is recorded in the database but is not part of this version`);
  });

  it('rolls back a failing migration completely and names it', async () => {
    const broken: Migration = {
      name: '29991231000000_broken',
      sql: 'CREATE TABLE "half_done" (id INT);\nSELECT * FROM "no_such_table";',
      checksum: '0'.repeat(64),
    };
    const error = await applyMigrations(db, [...files, broken]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationError);
    expect((error as Error).message).toMatch(/^Migration 29991231000000_broken failed: .*no_such_table/);
    expect(await tables(db)).not.toContain('half_done');
    expect((await recorded(db)).map((row) => row.migration_name)).toEqual(files.map((file) => file.name));
  });
});

describe('migrations with replicas starting together', () => {
  it('migrates once when several processes start at the same moment', async () => {
    const testDb = await createTestDatabase();
    const replicas = await Promise.all([1, 2, 3, 4].map(() => openDatabase(testDb)));
    try {
      const results = await Promise.all(replicas.map((replica) => applyMigrations(replica)));
      const files = await readMigrations();
      expect(results.flat().sort()).toEqual(files.map((file) => file.name).sort());
      expect(results.filter((applied) => applied.length > 0)).toHaveLength(1);
      expect(await recorded(replicas[0]!)).toHaveLength(files.length);
    } finally {
      await Promise.all(replicas.map((replica) => replica.close()));
      await testDb.drop();
    }
  });
});
