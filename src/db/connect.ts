// The first query of a start: a database that is not up yet (PostgreSQL starting after the service, under
// a supervisor or docker compose) is retried with backoff for a while, one log line per attempt, rather
// than crash-looping; a failure that waiting cannot cure (wrong password, no such database) fails at once.
// Either way the final error names the server and what to check.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Database } from './database.js';
import { isTransient } from './transient.js';

export interface WaitOptions {
  /** Give up after this long (default 60 s). */
  timeoutMs?: number;
  onRetry(attempt: number, delayMs: number, error: Error): void;
}

class DatabaseUnreachableError extends Error {
  override name = 'DatabaseUnreachableError';
}

export async function waitForDatabase(db: Database, options: WaitOptions): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  const where = `${db.address.host}:${db.address.port}`;
  for (let attempt = 1; ; attempt++) {
    try {
      await db.query('SELECT 1');
      return;
    } catch (caught) {
      const error = caught as Error & { code?: string };
      const reason = describe(error);
      if (!isTransient(error)) throw new DatabaseUnreachableError(`${db.kind === 'embedded' ? 'The embedded PostgreSQL server' : 'PostgreSQL'} at ${where} refused the connection: ${reason}. ${advice(error, db)}`, { cause: error });
      const delayMs = Math.min(500 * 2 ** (attempt - 1), 8_000, deadline - Date.now());
      if (delayMs <= 0) {
        throw new DatabaseUnreachableError(
          `Cannot reach PostgreSQL at ${where} (${reason}), tried ${attempt} times in ${Math.round((options.timeoutMs ?? 60_000) / 1000)} s. ` +
            `Check that the server is running and accepts TCP connections on ${where}, and that DATABASE_URL names the right host and port.`,
          { cause: error },
        );
      }
      options.onRetry(attempt, delayMs, error);
      await sleep(delayMs);
    }
  }
}

function describe(error: Error & { code?: string }): string {
  const message = error.message || (error instanceof AggregateError ? error.errors.map((inner: Error) => inner.message).join('; ') : '');
  return [error.code, message].filter(Boolean).join(' ') || String(error);
}

function advice(error: Error & { code?: string }, db: Database): string {
  if (error.code === '28P01' || error.code === '28000') return "Check the user name and password in DATABASE_URL.";
  if (error.code === '3D000') return "Create that database, or fix the database name at the end of DATABASE_URL.";
  return db.kind === 'embedded' ? `See ${db.location}.` : 'Check DATABASE_URL.';
}
