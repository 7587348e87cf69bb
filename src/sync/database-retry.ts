// Which failures mean "the database is away for a moment" (a server restarting, a dropped connection, a
// full pool) rather than "this statement is wrong": the pipeline retries the former, with backoff.
import { ReauthorizationRequiredError, WhoopApiError, WhoopOAuthError, WhoopResponseError } from '../whoop/errors.js';

/** SQLSTATE classes and codes of a server going away or refusing connections for now. */
const TRANSIENT_SQLSTATES = /^(08...|57P0[1-3]|53300|40001|40P01)$/;
const TRANSIENT_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
/** Prisma's codes for an unreachable server, a closed connection and a pool timeout. */
const TRANSIENT_PRISMA_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024']);
/** What pg and the driver adapter say when a connection ends, where they give no code. */
const TRANSIENT_MESSAGES = /Connection terminated|connection error|not queryable|timeout exceeded when trying to connect|server closed the connection|the database system is (shutting down|starting up|in recovery mode)|Can't reach database server|terminating connection/i;

export function isTransientDatabaseError(error: unknown): boolean {
  for (
    let current = error, depth = 0;
    current && depth < 8;
    current = (current as { cause?: unknown }).cause, depth++
  ) {
    if (
      current instanceof WhoopApiError ||
      current instanceof WhoopResponseError ||
      current instanceof WhoopOAuthError ||
      current instanceof ReauthorizationRequiredError
    ) {
      return false;
    }
    if (typeof current !== 'object') return false;
    const { code, message } = current as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && (TRANSIENT_SQLSTATES.test(code) || TRANSIENT_NODE_CODES.has(code) || TRANSIENT_PRISMA_CODES.has(code))) return true;
    if (typeof message === 'string' && TRANSIENT_MESSAGES.test(message)) return true;
    // The driver adapter keeps the server's code here.
    const original = (current as { meta?: { driverAdapterError?: { cause?: { originalCode?: unknown } } } }).meta
      ?.driverAdapterError?.cause?.originalCode;
    if (typeof original === 'string' && TRANSIENT_SQLSTATES.test(original)) return true;
  }
  return false;
}

/** Waits `ms`, or less when `signal` aborts. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Backoff for the n-th retry (from 1): 0.5 s doubling up to 5 s. */
export const backoffMs = (attempt: number) => Math.min(500 * 2 ** (attempt - 1), 5_000);

/**
 * Runs `fn` until it succeeds, retrying transient database failures with backoff for as long as the
 * process runs (a write that records an outcome must not be dropped); anything else is thrown.
 */
export async function persistently<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (!isTransientDatabaseError(error) || signal?.aborted) throw error;
      await pause(backoffMs(attempt), signal);
    }
  }
}
