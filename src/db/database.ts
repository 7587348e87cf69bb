// The one place that chooses the database: DATABASE_URL → Postgres through a pg pool; unset → embedded
// PGlite persisted under DATA_DIR. Both are real Postgres (same SQL, same migrations); everything above
// this module sees a Prisma client plus a raw SQL session for the few things Prisma cannot express
// (multi-statement migration scripts, session-level advisory locks, set-based upserts).
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { PrismaClient } from '../generated/prisma/client.js';

export type { PrismaClient };

/** One connection inside an open transaction. */
export interface SqlSession {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Runs a script that may hold several statements (no parameters). */
  exec(sql: string): Promise<void>;
}

export interface Database {
  readonly kind: 'postgres' | 'pglite';
  /** Where the data lives, for logs: the embedded directory, or the Postgres host and database (no password). */
  readonly location: string;
  readonly prisma: PrismaClient;
  /** Runs `fn` in one transaction on one connection: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (session: SqlSession) => Promise<T>): Promise<T>;
  /**
   * Runs `fn` while holding the named lock, shared by every process using this database (a Postgres
   * session advisory lock; PGlite has a single process, so an in-process lock is equivalent). With
   * `wait: false`, returns `{ acquired: false }` at once when someone else holds it.
   */
  withLock<T>(key: bigint, fn: () => Promise<T>, options?: { wait?: boolean }): Promise<LockResult<T>>;
  close(): Promise<void>;
}

export type LockResult<T> = { acquired: true; value: T } | { acquired: false };

export interface DatabaseOptions {
  databaseUrl: string | undefined;
  dataDir: string;
}

// Pool sizing and timeouts for a small service: a sync writes in batches, the Slack ack writes one row,
// so a handful of connections is plenty. The timeouts turn an unreachable server into a prompt error
// (and a 503 on /readyz) instead of a hang.
const POOL = {
  max: 10,
  connectionTimeoutMillis: 5_000,
  idleTimeoutMillis: 30_000,
  query_timeout: 60_000,
  keepAlive: true,
} as const;

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  return options.databaseUrl ? openPostgres(options.databaseUrl) : openPglite(options.dataDir);
}

function describePostgres(url: string): string {
  try {
    const parsed = new URL(url);
    return `postgres://${parsed.host}${parsed.pathname}`;
  } catch {
    return 'postgres';
  }
}

async function openPostgres(url: string): Promise<Database> {
  const pool = new pg.Pool({ connectionString: url, ...POOL, application_name: 'whoop-sync' });
  // An idle client losing its connection (server restart, network blip) emits 'error' on the pool; without
  // a listener that would crash the process. The pool replaces the client on its next use.
  pool.on('error', () => {});
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });

  async function withClient<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await pool.connect();
    let failure: Error | undefined;
    try {
      return await fn(client);
    } catch (error) {
      // After a failure the connection may still hold session state (a lock, an aborted transaction):
      // destroy it rather than hand it to the next user.
      failure = error as Error;
      throw error;
    } finally {
      client.release(failure ?? false);
    }
  }

  let closed = false;
  return {
    kind: 'postgres',
    location: describePostgres(url),
    prisma,
    transaction: (fn) =>
      withClient(async (client) => {
        await client.query('BEGIN');
        try {
          const result = await fn({
            query: async (sql, params) => (await client.query(sql, params as unknown[])).rows,
            exec: async (sql) => {
              await client.query(sql);
            },
          });
          await client.query('COMMIT');
          return result;
        } catch (error) {
          await client.query('ROLLBACK').catch(() => {});
          throw error;
        }
      }),
    withLock: (key, fn, options) =>
      withClient(async (client) => {
        const wait = options?.wait ?? true;
        if (wait) {
          await client.query('SELECT pg_advisory_lock($1)', [key.toString()]);
        } else {
          const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [
            key.toString(),
          ]);
          if (!rows[0]?.locked) return { acquired: false };
        }
        try {
          return { acquired: true, value: await fn() };
        } finally {
          await client.query('SELECT pg_advisory_unlock($1)', [key.toString()]);
        }
      }),
    async close() {
      if (closed) return;
      closed = true;
      await prisma.$disconnect();
      await pool.end();
    },
  };
}

async function openPglite(dataDir: string): Promise<Database> {
  const directory = resolve(dataDir);
  await mkdir(directory, { recursive: true });
  const client = await PGlite.create(directory);
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(client) });
  const locks = new Map<bigint, Promise<unknown>>();
  let closed = false;
  return {
    kind: 'pglite',
    location: directory,
    prisma,
    transaction: (fn) =>
      client.transaction((tx) =>
        fn({
          query: async (sql, params) => (await tx.query(sql, params)).rows as never[],
          exec: async (sql) => {
            await tx.exec(sql);
          },
        }),
      ),
    async withLock(key, fn, options) {
      const held = locks.get(key);
      if (held && options?.wait === false) return { acquired: false };
      // Chain behind the current holder; the map always points at the newest link.
      const run = (held ?? Promise.resolve()).catch(() => {}).then(fn);
      locks.set(key, run);
      try {
        return { acquired: true, value: await run };
      } finally {
        if (locks.get(key) === run) locks.delete(key);
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await prisma.$disconnect();
      await client.close();
    },
  };
}
