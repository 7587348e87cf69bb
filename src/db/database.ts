// The one place that chooses the database: DATABASE_URL → that PostgreSQL server; unset → the embedded
// PostgreSQL server under DATA_DIR (src/db/embedded-server.ts), started before the pool and stopped after
// it. Either way the service talks to it through one pg pool; everything above this module sees a Prisma
// client plus a raw SQL session for the few things Prisma cannot express (multi-statement migration
// scripts, session-level advisory locks, set-based upserts).
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import QueryStream from 'pg-query-stream';
import { openEmbeddedServer } from './embedded-server.js';
import { PrismaClient } from '../generated/prisma/client.js';

/** One connection inside an open transaction. */
export interface SqlSession {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Runs a script that may hold several statements (no parameters). */
  exec(sql: string): Promise<void>;
}

export interface Database {
  readonly kind: 'postgres' | 'embedded';
  /**
   * No other process can be using this database: it is on the embedded server this process started. A
   * process that used that directory before is gone (its server was stopped or replaced). False when the
   * embedded server was started by another whoop-sync process still running (`npm run sync` beside the service).
   */
  readonly exclusive: boolean;
  /** Where the data lives, for logs: the embedded directory, or the Postgres host and database (no password). */
  readonly location: string;
  /** Host and port the pool connects to, for messages. */
  readonly address: { host: string; port: number };
  readonly prisma: PrismaClient;
  /**
   * One statement on the driver itself, outside any transaction. For the hot paths only (recording an
   * acknowledged /sync, starting a run, writing a sync's pages): it skips the Prisma client's query
   * compiler, which costs more CPU than the statement itself.
   */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /**
   * The rows of one statement, read through a cursor `batchSize` rows at a time as the caller consumes
   * them: memory stays constant however many rows there are (exports of a whole history). The
   * connection is held until the caller has read the last row or stops early.
   */
  stream<T = Record<string, unknown>>(sql: string, params?: unknown[], batchSize?: number): AsyncGenerator<T>;
  /** Like query(), for a statement whose rows affected is the answer (an upsert or a delete). */
  execute(sql: string, params?: unknown[]): Promise<number>;
  /** Runs `fn` in one transaction on one connection: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (session: SqlSession) => Promise<T>): Promise<T>;
  /**
   * Runs `fn` while holding the named lock, shared by every process using this database (a Postgres
   * session advisory lock), waiting for it as long as someone else holds it.
   */
  withLock<T>(key: bigint, fn: () => Promise<T>): Promise<T>;
  /**
   * A session advisory lock on a connection of its own, held until release() or until that connection
   * ends (the process dies, the server restarts): then PostgreSQL releases it for another process.
   */
  sessionLock(key: bigint): SessionLock;
  close(): Promise<void>;
}

interface SessionLock {
  /** Tries to take the lock without waiting; true while this process holds it. */
  take(): Promise<boolean>;
  /** False once the lock's connection ended (then take() tries again on a new one). */
  readonly held: boolean;
  release(): Promise<void>;
}

export interface DatabaseOptions {
  databaseUrl: string | undefined;
  dataDir: string;
  /**
   * Hears of the embedded server exiting while the service uses it: from then on every statement fails
   * until the process restarts. A PostgreSQL server of DATABASE_URL that goes away is not reported here:
   * the pool reconnects once it is back.
   */
  onFailure?: (error: Error) => void;
  /** Use an embedded server another whoop-sync process started (see EmbeddedServerOptions.shared). */
  shared?: boolean;
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

/** How long one streamed statement may take, slow readers included. */
const STREAM_TIMEOUT_MS = 60 * 60_000;

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.databaseUrl) return openPostgres(options.databaseUrl, describePostgres(options.databaseUrl), 'postgres', false);
  // The server comes first, the pool after it; on close, the pool goes first.
  const { dataDir, onFailure: onExit, shared } = options;
  const server = await openEmbeddedServer({ dataDir, onExit, shared });
  const location = `${server.directory} (127.0.0.1:${server.port}${server.owned ? '' : ', started by another whoop-sync process'})`;
  return openPostgres(server.url, location, 'embedded', server.owned, () => server.stop());
}

function describePostgres(url: string): string {
  try {
    const parsed = new URL(url);
    return `postgres://${parsed.host}${parsed.pathname}`;
  } catch {
    return 'postgres';
  }
}

function addressOf(url: string): { host: string; port: number } {
  try {
    const parsed = new URL(url);
    return { host: decodeURIComponent(parsed.hostname) || 'localhost', port: Number(parsed.port || 5432) };
  } catch {
    return { host: 'localhost', port: 5432 };
  }
}

async function openPostgres(
  url: string,
  location: string,
  kind: Database['kind'],
  exclusive: boolean,
  after?: () => Promise<void>,
): Promise<Database> {
  const pool = new pg.Pool({ connectionString: url, ...POOL, application_name: 'whoop-sync' });
  const localLocks = new LocalLocks();
  return poolDatabase(pool, {
    kind,
    exclusive,
    location,
    address: addressOf(url),
    // Callers in this process queue in memory first, so that waiting for a lock never ties up more than
    // one pooled connection per key (twenty waiters must not starve the holder of connections).
    withLock<T>(key: bigint, fn: () => Promise<T>): Promise<T> {
      return localLocks.run(key, async () => {
        const client = await pool.connect();
        let broken: Error | undefined;
        try {
          await client.query('SELECT pg_advisory_lock($1)', [key.toString()]);
          try {
            return await fn();
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
    sessionLock: (key) => sessionLock(url, key),
    async close() {
      try {
        await pool.end();
      } finally {
        await after?.();
      }
    },
  });
}

/** The Database on a pg pool. */
function poolDatabase(
  pool: pg.Pool,
  own: Pick<Database, 'kind' | 'exclusive' | 'location' | 'address' | 'withLock' | 'sessionLock'> & { close(): Promise<void> },
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

  async function* stream<T>(sql: string, params: unknown[] = [], batchSize = 500): AsyncGenerator<T> {
    const client = await pool.connect();
    // The pool's query_timeout bounds a whole statement; a cursor read by a slow client may take longer.
    const rows = Object.assign(new QueryStream(sql, params, { batchSize }), { query_timeout: STREAM_TIMEOUT_MS });
    let failure: Error | undefined;
    try {
      for await (const row of client.query(rows)) yield row as T;
    } catch (error) {
      failure = error as Error;
      throw error;
    } finally {
      // Stopped early: the cursor closes its portal before the connection goes back to the pool.
      if (!rows.destroyed) await new Promise<void>((resolve) => rows.destroy().once('close', resolve));
      client.release(failure ?? false);
    }
  }

  let closed = false;
  return {
    kind: own.kind,
    exclusive: own.exclusive,
    location: own.location,
    address: own.address,
    prisma,
    query: async (sql, params) => (await pool.query(sql, params as unknown[])).rows,
    stream,
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
    sessionLock: own.sessionLock,
    async close() {
      if (closed) return;
      closed = true;
      await prisma.$disconnect();
      await own.close();
    },
  };
}

function sessionLock(url: string, key: bigint): SessionLock {
  let client: pg.Client | undefined;
  let held = false;
  const forget = (which: pg.Client) => {
    if (client !== which) return;
    client = undefined;
    held = false;
    which.end().catch(() => {});
  };
  return {
    get held() {
      return held;
    },
    async take() {
      if (held) return true;
      const current = client ?? new pg.Client({ connectionString: url, application_name: 'whoop-sync worker', keepAlive: true, connectionTimeoutMillis: 5_000 });
      try {
        if (!client) {
          client = current;
          current.on('error', () => forget(current));
          current.on('end', () => forget(current));
          await current.connect();
        }
        const [row] = (await current.query<{ taken: boolean }>('SELECT pg_try_advisory_lock($1) AS taken', [key.toString()])).rows;
        held = client === current && row?.taken === true;
      } catch {
        forget(current);
      }
      return held;
    },
    async release() {
      const ending = client;
      client = undefined;
      held = false;
      // Ending the session releases the lock.
      await ending?.end().catch(() => {});
    },
  };
}

/** In-process locks by key: callers run one at a time, in arrival order. */
class LocalLocks {
  private readonly tails = new Map<bigint, Promise<unknown>>();

  async run<T>(key: bigint, fn: () => Promise<T>): Promise<T> {
    const turn = (this.tails.get(key) ?? Promise.resolve()).catch(() => {}).then(fn);
    this.tails.set(key, turn);
    try {
      return await turn;
    } finally {
      if (this.tails.get(key) === turn) this.tails.delete(key);
    }
  }
}
