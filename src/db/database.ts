// The one place that chooses the database: DATABASE_URL → Postgres through a pg pool; unset → embedded
// PGlite persisted under DATA_DIR, running on a thread of its own and reached through a pg pool as well
// (src/db/pglite-thread.ts). Both are real Postgres (same SQL, same migrations, same driver); everything
// above this module sees a Prisma client plus a raw SQL session for the few things Prisma cannot express
// (multi-statement migration scripts, session-level advisory locks, set-based upserts).
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { startPgliteThread } from './pglite-thread.js';
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
  /**
   * One statement on the driver itself, outside any transaction. For the hot paths only (recording an
   * acknowledged /sync, starting a run, writing a sync's pages): it skips the Prisma client's query
   * compiler, which costs more CPU than the statement itself.
   */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Like query(), for a statement whose rows affected is the answer (an upsert or a delete). */
  execute(sql: string, params?: unknown[]): Promise<number>;
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
  /**
   * Hears of the embedded database failing for good after it opened (its thread crashed): from then on
   * every statement fails until the process restarts. A PostgreSQL server that goes away is not reported
   * here: the pool reconnects once it is back.
   */
  onFailure?: (error: Error) => void;
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
  return options.databaseUrl ? openPostgres(options.databaseUrl) : openPglite(options.dataDir, options.onFailure);
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
  const localLocks = new LocalLocks();
  return poolDatabase(pool, {
    kind: 'postgres',
    location: describePostgres(url),
    // Callers in this process queue in memory first, so that waiting for a lock never ties up more than
    // one pooled connection per key (twenty waiters must not starve the holder of connections).
    withLock<T>(key: bigint, fn: () => Promise<T>, options?: { wait?: boolean }): Promise<LockResult<T>> {
      return localLocks.run(key, options?.wait ?? true, async (): Promise<LockResult<T>> => {
        const client = await pool.connect();
        let broken: Error | undefined;
        try {
          if (options?.wait === false) {
            const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [key.toString()]);
            if (!rows[0]?.locked) return { acquired: false };
          } else {
            await client.query('SELECT pg_advisory_lock($1)', [key.toString()]);
          }
          try {
            return { acquired: true, value: await fn() };
          } finally {
            // If the connection died meanwhile, its locks died with it: nothing to unlock, and the outcome
            // of `fn` is what matters to the caller.
            await client.query('SELECT pg_advisory_unlock($1)', [key.toString()]).catch((error: Error) => {
              broken = error;
            });
          }
        } catch (error) {
          broken = error as Error;
          throw error;
        } finally {
          client.release(broken ?? false);
        }
      });
    },
    close: () => pool.end(),
  });
}

/** The Database on a pg pool: the same for a PostgreSQL server and for the embedded database's thread. */
function poolDatabase(
  pool: pg.Pool,
  own: Pick<Database, 'kind' | 'location' | 'withLock'> & { close(): Promise<void> },
): Database {
  // A client losing its connection (server restart, network blip, pg_terminate_backend) emits 'error': on
  // the pool while idle, on the client itself while checked out (by us or by Prisma). Unheard, either would
  // crash the process. The query in progress fails on its own, which is how its caller learns about it,
  // and the pool replaces the client.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
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
    kind: own.kind,
    location: own.location,
    prisma,
    query: async (sql, params) => (await pool.query(sql, params as unknown[])).rows,
    execute: async (sql, params) => (await pool.query(sql, params as unknown[])).rowCount ?? 0,
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
    withLock: own.withLock,
    async close() {
      if (closed) return;
      closed = true;
      await prisma.$disconnect();
      await own.close();
    },
  };
}

/**
 * PGlite is one process's private database: a second process opening the same directory would corrupt
 * it. A lock file holding the owner's pid turns that mistake (say, `npm run sync` while the service runs)
 * into a clear error. A lock left by a process that no longer exists is taken over.
 */
async function lockDataDir(directory: string): Promise<() => Promise<void>> {
  const lockFile = `${directory}/whoop-sync.pid`;
  for (;;) {
    try {
      await writeFile(lockFile, `${process.pid}\n`, { flag: 'wx' });
      return () => rm(lockFile, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number((await readFile(lockFile, 'utf8').catch(() => '')).trim());
    if (holder && isAlive(holder)) {
      throw new Error(
        `The embedded database in ${directory} is in use by process ${holder}. Stop that process first ` +
          '(or, while the service runs, trigger syncs through it), or set DATABASE_URL to use PostgreSQL.',
      );
    }
    await rm(lockFile, { force: true }); // stale: its process is gone
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function openPglite(dataDir: string, onFailure: DatabaseOptions['onFailure']): Promise<Database> {
  const directory = resolve(dataDir);
  await mkdir(directory, { recursive: true });
  const unlock = await lockDataDir(directory);
  const thread = await startPgliteThread(directory, onFailure).catch(async (error: unknown) => {
    await unlock();
    throw error;
  });
  // The connections share PGlite's one session and take turns on it (src/db/pglite-host.ts): a few are
  // enough to keep it busy while a transaction or a sync's page writes hold one.
  const pool = new pg.Pool({
    ...POOL,
    max: 4,
    // An idle connection here is two MessagePorts: keep it rather than handshake again later.
    idleTimeoutMillis: 0,
    stream: () => thread.connect(),
    user: 'postgres',
    database: 'postgres',
    // Not from the environment's PG* variables: they describe some PostgreSQL server, not this one.
    host: 'pglite',
    password: '',
    ssl: false,
    application_name: 'whoop-sync',
  });
  const localLocks = new LocalLocks();
  return poolDatabase(pool, {
    kind: 'pglite',
    location: directory,
    // One session: Postgres advisory locks would not exclude anyone, an in-process lock does.
    withLock: async (key, fn, options) => localLocks.run(key, options?.wait ?? true, async () => ({ acquired: true, value: await fn() }) as const),
    async close() {
      await pool.end();
      await thread.close();
      await unlock();
    },
  });
}

/** In-process locks by key: callers run one at a time, in arrival order. */
class LocalLocks {
  private readonly tails = new Map<bigint, Promise<unknown>>();

  async run<T>(key: bigint, wait: boolean, fn: () => Promise<LockResult<T>>): Promise<LockResult<T>> {
    const previous = this.tails.get(key);
    if (previous && !wait) return { acquired: false };
    const turn = (previous ?? Promise.resolve()).catch(() => {}).then(fn);
    this.tails.set(key, turn);
    try {
      return await turn;
    } finally {
      if (this.tails.get(key) === turn) this.tails.delete(key);
    }
  }
}
