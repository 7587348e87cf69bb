// Every request to WHOOP goes through here: within WHOOP's shared budget (budget.ts), a timeout per
// request, and bounded retries with exponential backoff and jitter (p-retry) for 429, 5xx and network
// failures. A 429 consumes no retry: the budget waits out its Retry-After or X-RateLimit-Reset. Other
// statuses (400, 401, 404) are returned to the caller, which knows what they mean.
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyBaseLogger } from 'fastify';
import pRetry, { AbortError } from 'p-retry';
import type { Metrics } from '../metrics/metrics.js';
import { plural } from '../util/plural.js';
import type { WhoopBudget } from './budget.js';
import { WhoopApiError, WhoopResponseError } from './errors.js';
import { Transport } from './transport.js';

/** Attempts of one request, and how long its retries may go on (waits for the budget included). */
const ATTEMPTS = 5;
const RETRY_FOR_MS = 120_000;
const REQUEST_TIMEOUT_MS = 15_000;

export interface WhoopRequest {
  method: 'GET' | 'POST' | 'DELETE';
  /** Path under WHOOP_API_URL, e.g. `/developer/v2/cycle`. */
  path: string;
  /** Bounded label for metrics and logs, e.g. `cycle` or `oauth_token`. */
  endpoint: string;
  query?: Record<string, string | undefined>;
  headers?: Record<string, string>;
  body?: string;
  /**
   * A request that may safely be sent twice. A token refresh is not: if WHOOP received it, the refresh
   * token it carried is spent, so it is retried only when WHOOP answered 429/5xx (and so did not rotate).
   */
  idempotent: boolean;
}

export interface WhoopResponse {
  status: number;
  body: unknown;
}

export interface WhoopHttpOptions {
  apiUrl: string;
  metrics: Metrics;
  log: FastifyBaseLogger;
  budget: WhoopBudget;
  /** Aborts waits and requests when the service shuts down. */
  signal?: AbortSignal;
  timeoutMs?: number;
}

/**
 * Failures of the budget's database, not of WHOOP: they end the request as they are (a sync retries a
 * database outage as a whole), instead of being retried and reported as a WHOOP failure.
 */
const databaseFailures = new WeakSet<object>();
function fromBudget<T>(step: Promise<T>): Promise<T> {
  return step.catch((error: Error) => {
    databaseFailures.add(error);
    throw new AbortError(error);
  });
}

/** An answer worth another attempt: 429 or 5xx. */
class RetryableStatus extends Error {
  constructor(readonly status: number) {
    super(`HTTP ${status}`);
  }
}

export class WhoopHttp {
  private readonly timeoutMs: number;
  private readonly transport = new Transport();

  constructor(private readonly options: WhoopHttpOptions) {
    this.timeoutMs = options.timeoutMs ?? REQUEST_TIMEOUT_MS;
  }

  async request(request: WhoopRequest): Promise<WhoopResponse> {
    const { metrics, log, signal } = this.options;
    const url = new URL(this.options.apiUrl + request.path);
    for (const [key, value] of Object.entries(request.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, value);
    }
    const started = Date.now();
    const what = `${request.method} ${request.path}`;
    let attempts = 0;
    try {
      return await pRetry(() => (attempts++, this.attempt(url, request, what)), {
        retries: ATTEMPTS - 1,
        minTimeout: 500,
        maxTimeout: 30_000,
        randomize: true,
        maxRetryTime: RETRY_FOR_MS,
        signal,
        shouldConsumeRetry: ({ error }) => !(error instanceof RetryableStatus && error.status === 429),
        shouldRetry: ({ error }) => error instanceof RetryableStatus || request.idempotent || neverSent(error),
        onFailedAttempt: ({ error, attemptNumber }) => {
          metrics.whoopRetries.inc({ endpoint: request.endpoint });
          log.warn({ endpoint: request.endpoint, attempt: attemptNumber, reason: this.reason(error) }, 'WHOOP request failed; retrying');
        },
      });
    } catch (error) {
      if (signal?.aborted) throw new WhoopApiError(`${what} was cancelled because the service is shutting down`, undefined, { cause: error });
      if (databaseFailures.has(error as object)) throw error;
      if (error instanceof WhoopResponseError && !request.idempotent) throw error;
      const tried = `after ${plural(attempts, 'attempt')} over ${Math.round((Date.now() - started) / 1000)} s`;
      if (error instanceof RetryableStatus) {
        throw new WhoopApiError(
          error.status === 429 ? `WHOOP rate limit exceeded for ${what} (${tried}); the next sync will try again` : `WHOOP request ${what} failed: HTTP ${error.status} (${tried})`,
          error.status,
        );
      }
      if (!request.idempotent) throw new WhoopApiError(`WHOOP request ${what} failed (${this.reason(error)}) and is not safe to repeat`, undefined, { cause: error });
      throw new WhoopApiError(`WHOOP request ${what} failed: ${this.reason(error)} (${tried})`, undefined, { cause: error });
    }
  }

  /** One attempt: the developer API waits for the budget first (a token refresh never does). */
  private async attempt(url: URL, request: WhoopRequest, what: string): Promise<WhoopResponse> {
    const { metrics, budget, signal } = this.options;
    const budgeted = request.path.startsWith('/developer/');
    if (budgeted) await fromBudget(budget.take(signal));
    const deadline = this.deadline();
    try {
      const response = await this.transport.send(url, {
        method: request.method,
        headers: { accept: 'application/json', ...request.headers },
        body: request.body,
        signal: deadline.signal,
        fresh: !request.idempotent,
      });
      metrics.whoopRequests.inc({ endpoint: request.endpoint, status_class: `${Math.floor(response.status / 100)}xx` });
      const remaining = Number(header(response.headers, 'x-ratelimit-remaining') ?? NaN);
      const resetSeconds = Number(header(response.headers, 'x-ratelimit-reset') ?? NaN);
      if (response.status === 429) {
        metrics.whoopRateLimited.inc();
        const waitSeconds = retryAfterSeconds(response.headers) ?? (Number.isFinite(resetSeconds) ? resetSeconds : 1);
        await fromBudget(budget.observe(0, waitSeconds));
      } else if (budgeted && Number.isFinite(remaining) && Number.isFinite(resetSeconds)) {
        await fromBudget(budget.observe(remaining, Math.min(resetSeconds, 86_400)));
      }
      if (response.status === 429 || response.status >= 500) throw new RetryableStatus(response.status);
      return { status: response.status, body: parseBody(response.text, what, response.status) };
    } catch (error) {
      if (!(error instanceof RetryableStatus) && !(error instanceof AbortError)) {
        metrics.whoopRequests.inc({ endpoint: request.endpoint, status_class: 'error' });
      }
      throw error;
    } finally {
      deadline.clear();
    }
  }

  private reason(error: unknown): string {
    return error instanceof RetryableStatus ? error.message : describeNetworkError(error, this.timeoutMs);
  }

  /** Closes the idle connections to WHOOP. */
  close(): void {
    this.transport.close();
  }

  /**
   * One attempt's signal: aborted after timeoutMs (covering the answer's body too) or at shutdown.
   * Deliberately not AbortSignal.any([AbortSignal.timeout(…), shutdown]): on Node 20 the timeout signal
   * inside it can be garbage-collected before it fires, and a WHOOP request that never answers then
   * holds its sync, and every sync queued behind it, forever.
   */
  private deadline(): { signal: AbortSignal; clear(): void } {
    const controller = new AbortController();
    const shutdown = this.options.signal;
    const timer = setTimeout(() => controller.abort(new DOMException(`no answer within ${this.timeoutMs} ms`, 'TimeoutError')), this.timeoutMs);
    const stop = () => controller.abort(shutdown?.reason);
    if (shutdown?.aborted) stop();
    else shutdown?.addEventListener('abort', stop, { once: true });
    return {
      signal: controller.signal,
      clear() {
        clearTimeout(timer);
        shutdown?.removeEventListener('abort', stop);
      },
    };
  }
}

function parseBody(text: string, what: string, status: number): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    if (status >= 400) return text.slice(0, 200);
    throw new WhoopResponseError(`WHOOP returned a response that is not valid JSON for ${what}`);
  }
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** `Retry-After` in seconds or as an HTTP date. */
function retryAfterSeconds(headers: IncomingHttpHeaders): number | undefined {
  const value = header(headers, 'retry-after');
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds, 86_400);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, (date - Date.now()) / 1000);
}

function neverSent(error: unknown): boolean {
  const code = (error as { code?: string })?.code;
  return code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN';
}

function describeNetworkError(error: unknown, timeoutMs: number): string {
  if (error instanceof WhoopResponseError) return error.message;
  if ((error as Error)?.name === 'TimeoutError') return `no answer within ${timeoutMs / 1000} s`;
  const { code, message } = (error ?? {}) as { code?: string; message?: string };
  return code ?? message ?? 'network error';
}
