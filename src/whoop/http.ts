// Every request to WHOOP goes through here: pacing under the rate limit, a timeout per request, and
// bounded retries with exponential backoff and jitter for 429, 5xx and network failures, honouring
// Retry-After or X-RateLimit-Reset. Other statuses (400, 401, 404) are returned to the caller, which knows
// what they mean.
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyBaseLogger } from 'fastify';
import type { Metrics } from '../metrics/metrics.js';
import { plural } from '../util/plural.js';
import { WhoopApiError, WhoopResponseError } from './errors.js';
import type { SlidingWindowLimiter } from './rate-limiter.js';
import { Transport } from './transport.js';

export interface RetryPolicy {
  maxAttempts: number;
  /** No retry wait may end later than this after the first attempt. */
  maxTotalMs: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 5, maxTotalMs: 120_000, baseDelayMs: 500, maxDelayMs: 30_000 };
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
  limiter: SlidingWindowLimiter;
  /** Aborts waits and requests when the service shuts down. */
  signal?: AbortSignal;
  retry?: RetryPolicy;
  timeoutMs?: number;
}

export class WhoopHttp {
  private readonly retry: RetryPolicy;
  private readonly timeoutMs: number;
  private readonly transport = new Transport();

  constructor(private readonly options: WhoopHttpOptions) {
    this.retry = options.retry ?? DEFAULT_RETRY;
    this.timeoutMs = options.timeoutMs ?? REQUEST_TIMEOUT_MS;
  }

  async request(request: WhoopRequest): Promise<WhoopResponse> {
    const { metrics, log } = this.options;
    const url = new URL(this.options.apiUrl + request.path);
    for (const [key, value] of Object.entries(request.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, value);
    }
    const started = Date.now();
    const what = `${request.method} ${request.path}`;

    for (let attempt = 1; ; attempt++) {
      // Only the developer API is rate limited; a token refresh must never queue behind a backfill.
      if (request.path.startsWith('/developer/')) await this.options.limiter.acquire();
      this.options.signal?.throwIfAborted();
      let failure: { reason: string; waitMs?: number; status?: number; cause?: unknown };
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
        const resetMs = rateLimitResetMs(response.headers);
        if (header(response.headers, 'x-ratelimit-remaining') === '0' && resetMs !== undefined) this.options.limiter.pauseFor(resetMs);
        if (response.status === 429 || response.status >= 500) {
          if (response.status === 429) {
            metrics.whoopRateLimited.inc();
            if (resetMs !== undefined) this.options.limiter.pauseFor(resetMs);
          }
          failure = { reason: `HTTP ${response.status}`, status: response.status, waitMs: retryAfterMs(response.headers) ?? (response.status === 429 ? resetMs : undefined) };
        } else {
          return { status: response.status, body: parseBody(response.text, what, response.status) };
        }
      } catch (error) {
        if (this.options.signal?.aborted) throw new WhoopApiError(`${what} was cancelled because the service is shutting down`, undefined, { cause: error });
        if (error instanceof WhoopResponseError && !request.idempotent) throw error;
        metrics.whoopRequests.inc({ endpoint: request.endpoint, status_class: 'error' });
        const reason = describeNetworkError(error, this.timeoutMs);
        // A non-idempotent request may have reached WHOOP; only a refused connection proves it did not.
        if (!request.idempotent && !neverSent(error)) {
          throw new WhoopApiError(`WHOOP request ${what} failed (${reason}) and is not safe to repeat`, undefined, { cause: error });
        }
        failure = { reason, cause: error };
      } finally {
        deadline.clear();
      }

      const elapsed = Date.now() - started;
      const backoff = Math.random() * Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
      const waitMs = Math.max(failure.waitMs ?? 0, backoff);
      if (attempt >= this.retry.maxAttempts || elapsed + waitMs > this.retry.maxTotalMs) {
        const tried = `after ${plural(attempt, 'attempt')} over ${Math.round(elapsed / 1000)} s`;
        const message =
          failure.status === 429
            ? `WHOOP rate limit exceeded for ${what} (${tried}); the next sync will try again`
            : `WHOOP request ${what} failed: ${failure.reason} (${tried})`;
        throw new WhoopApiError(message, failure.status, { cause: failure.cause });
      }
      metrics.whoopRetries.inc({ endpoint: request.endpoint });
      log.warn({ endpoint: request.endpoint, attempt, reason: failure.reason, retryInMs: Math.round(waitMs) }, 'WHOOP request failed; retrying');
      await sleep(waitMs, this.options.signal);
    }
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
function retryAfterMs(headers: IncomingHttpHeaders): number | undefined {
  const value = header(headers, 'retry-after');
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** `X-RateLimit-Reset`: seconds until the window resets. */
function rateLimitResetMs(headers: IncomingHttpHeaders): number | undefined {
  const seconds = Number(header(headers, 'x-ratelimit-reset') ?? NaN);
  return Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds, 86_400) * 1000 : undefined;
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

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(done, ms);
    function done() {
      signal?.removeEventListener('abort', abort);
      resolve();
    }
    function abort() {
      clearTimeout(timer);
      reject(new WhoopApiError('WHOOP request was cancelled because the service is shutting down', undefined));
    }
    signal?.addEventListener('abort', abort, { once: true });
  });
}
