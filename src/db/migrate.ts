// Applies the SQL migrations under prisma/migrations at start-up. Prisma's migration engine is a native
// binary that these deployments do not ship, so the service does the same job itself and records it in
// Prisma's own `_prisma_migrations` format: `prisma migrate status`/`deploy` agree wherever they exist.
import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Database, SqlSession } from './database.js';

/** The folder of the migrations, next to src/ and dist/ alike. */
const MIGRATIONS_DIR = fileURLToPath(new URL('../../prisma/migrations', import.meta.url));

/** Prisma migrate's own advisory lock key, so this runner and `prisma migrate deploy` exclude each other. */
const MIGRATION_LOCK_KEY = 72707369;

export interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

export class MigrationError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'MigrationError';
  }
}

export async function readMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const names = entries.filter((entry) => entry.isDirectory()).map((entry) => entry.name).sort();
  return Promise.all(
    names.map(async (name) => {
      const sql = await readFile(`${dir}/${name}/migration.sql`, 'utf8');
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    }),
  );
}

// The table exactly as Prisma creates it.
const CREATE_MIGRATIONS_TABLE = `
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

interface AppliedRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
}

/**
 * Applies every pending migration in one transaction, under Prisma's advisory lock so that replicas
 * starting together migrate once. Refuses (throws MigrationError naming the migration) when an applied
 * migration's file has changed, failed earlier, or is unknown to this version.
 * Returns the names of the migrations it applied.
 */
export async function applyMigrations(db: Database, migrations?: Migration[]): Promise<string[]> {
  const files = migrations ?? (await readMigrations());
  return db.transaction(async (session) => {
    await session.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await session.exec(CREATE_MIGRATIONS_TABLE);
    const applied = await session.query<AppliedRow>(
      'SELECT migration_name, checksum, finished_at FROM "_prisma_migrations" WHERE rolled_back_at IS NULL',
    );
    const pending = checkApplied(files, applied);
    for (const migration of pending) await apply(session, migration);
    return pending.map((migration) => migration.name);
  });
}

function checkApplied(files: Migration[], applied: AppliedRow[]): Migration[] {
  const byName = new Map(files.map((migration) => [migration.name, migration]));
  for (const row of applied) {
    const file = byName.get(row.migration_name);
    if (!file) {
      throw new MigrationError(
        `Migration ${row.migration_name} is recorded in the database but is not part of this version of whoop-sync ` +
          '(was the database used by a newer version?). Refusing to start.',
      );
    }
    if (row.finished_at === null) {
      throw new MigrationError(
        `Migration ${row.migration_name} was started but never finished (a failed earlier attempt). ` +
          'Inspect the database, then mark it rolled back or applied in _prisma_migrations. Refusing to start.',
      );
    }
    if (row.checksum !== file.checksum) {
      throw new MigrationError(
        `Migration ${row.migration_name} was modified after it was applied ` +
          `(checksum in database ${row.checksum.slice(0, 12)}…, file ${file.checksum.slice(0, 12)}…). ` +
          'Applied migrations must never change: restore the original file and add a new migration instead. Refusing to start.',
      );
    }
  }
  const appliedNames = new Set(applied.map((row) => row.migration_name));
  return files.filter((migration) => !appliedNames.has(migration.name));
}

async function apply(session: SqlSession, migration: Migration): Promise<void> {
  try {
    await session.exec(migration.sql);
  } catch (error) {
    throw new MigrationError(`Migration ${migration.name} failed: ${(error as Error).message}`, { cause: error });
  }
  await session.query(
    `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, finished_at, applied_steps_count)
     VALUES ($1, $2, $3, now(), now(), 1)`,
    [randomUUID(), migration.checksum, migration.name],
  );
}
