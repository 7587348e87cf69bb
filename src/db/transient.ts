// Which database failures mean "the server is away for a moment" (restarting, a dropped connection, a full
// pool) rather than "this statement is wrong": start-up waits for the former, and the worker retries them.
import pRetry from 'p-retry';

/** SQLSTATE classes and codes of a server going away or refusing connections for now. */
const TRANSIENT_SQLSTATES = /^(08...|57P0[1-3]|53300|40001|40P01)$/;
const TRANSIENT_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
/** Prisma's codes for an unreachable server, a closed connection and a pool timeout. */
const TRANSIENT_PRISMA_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024']);
/** What pg and the driver adapter say when a connection ends, where they give no code. */
const TRANSIENT_MESSAGES = /Connection terminated|connection error|not queryable|timeout exceeded when trying to connect|server closed the connection|the database system is (shutting down|starting up|in recovery mode)|Can't reach database server|terminating connection/i;

/**
 * The error itself, the members of an AggregateError (pg tries every address of a host) and the driver
 * error under a Prisma error are looked at; other causes are not, since a WHOOP request's network failure
 * (an ECONNRESET under a WhoopApiError) says nothing about the database.
 */
export function isTransient(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  if (error instanceof AggregateError) return error.errors.some(isTransient);
  const { code, message, name } = error as { code?: unknown; message?: unknown; name?: unknown };
  if (typeof code === 'string' && (TRANSIENT_SQLSTATES.test(code) || TRANSIENT_NODE_CODES.has(code) || TRANSIENT_PRISMA_CODES.has(code))) return true;
  if (typeof message === 'string' && TRANSIENT_MESSAGES.test(message)) return true;
  type Meta = { meta?: { driverAdapterError?: { cause?: { originalCode?: unknown } } } };
  const original = (error as Meta).meta?.driverAdapterError?.cause?.originalCode;
  if (typeof original === 'string' && TRANSIENT_SQLSTATES.test(original)) return true;
  return typeof name === 'string' && name.startsWith('Prisma') && isTransient((error as { cause?: unknown }).cause);
}

/**
 * Runs `fn` until it succeeds, retrying transient failures (0.5 s doubling to 5 s) for as long as the
 * process runs, or for `forMs`: a write that records an outcome must not be dropped. Anything else throws.
 */
export function persistently<T>(fn: () => Promise<T>, signal?: AbortSignal, forMs = Infinity): Promise<T> {
  return pRetry(fn, {
    retries: Infinity,
    minTimeout: 500,
    maxTimeout: 5_000,
    maxRetryTime: forMs,
    signal,
    unref: true,
    shouldRetry: ({ error }) => isTransient(error),
  });
}
