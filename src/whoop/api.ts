// The WHOOP v2 developer API, as the sync engine needs it: the four collections read page by page over a
// time window, single records by id (for webhooks), and the member's profile and body measurement.
import type { z } from 'zod';
import { ReauthorizationRequiredError, WhoopApiError, WhoopResponseError } from './errors.js';
import type { WhoopHttp } from './http.js';
import { bodySchema, pageSchema, parseResponse, profileSchema, type Body, type Profile } from './schemas.js';
import type { TokenGuard } from './token-guard.js';

/** WHOOP's maximum page size. */
export const PAGE_LIMIT = 25;
/** A year is ~15 pages; anything near this means the pagination is looping. */
const MAX_PAGES = 2_000;

export interface Collection<T extends z.ZodType> {
  /** Path under /developer, e.g. `/v2/cycle`. */
  path: string;
  /** Bounded metrics label. */
  endpoint: string;
  /** Singular noun for error messages. */
  noun: string;
  schema: T;
}

export interface TimeWindow {
  start: Date;
  end: Date;
}

export interface ListLimits {
  /** More pages than this cannot be real for the window: the listing fails instead of paging on. */
  maxPages?: number;
  /** No page is requested after this instant (epoch ms): the listing fails instead. */
  deadline?: number;
}

export class WhoopApi {
  constructor(
    private readonly http: WhoopHttp,
    private readonly guard: TokenGuard,
  ) {}

  /** Makes the next request of this account read its stored grant (see TokenGuard). */
  forget(userId: bigint): void {
    this.guard.forget(userId);
  }

  /**
   * Every record of `collection` whose start lies in [window.start, window.end), newest first. `onPage`
   * gets each page's records as soon as they are validated, while the next page is already on its way; the
   * listing waits for it, and fails with it.
   */
  async listAll<T extends z.ZodType>(
    userId: bigint,
    collection: Collection<T>,
    window: TimeWindow,
    onPage?: (records: z.infer<T>[]) => Promise<void>,
    limits: ListLimits = {},
  ): Promise<z.infer<T>[]> {
    const maxPages = limits.maxPages ?? MAX_PAGES;
    const page = (nextToken?: string) => {
      const request = this.get(userId, collection.path, collection.endpoint, {
        limit: String(PAGE_LIMIT),
        // The same start and end on every page, as WHOOP requires.
        start: window.start.toISOString(),
        end: window.end.toISOString(),
        nextToken,
      });
      // Awaited below; if validation of the page before fails first, its failure is not the one to report.
      request.catch(() => {});
      return request;
    };
    const records: z.infer<T>[] = [];
    const seenTokens = new Set<string>();
    let pending = page();
    for (let count = 1; ; count++) {
      if (count > maxPages) {
        throw new WhoopResponseError(
          `WHOOP returned more than ${maxPages} pages of ${collection.noun}s for ${window.start.toISOString()} → ${window.end.toISOString()}, more than the window can hold: the listing was stopped`,
        );
      }
      const { records: raw, next_token } = parseResponse(pageSchema, await pending, `${collection.noun} page`);
      if (next_token) {
        if (seenTokens.has(next_token)) throw new WhoopResponseError(`WHOOP repeated a page token while listing ${collection.noun}s`);
        seenTokens.add(next_token);
        if (limits.deadline !== undefined && Date.now() > limits.deadline) {
          throw new WhoopResponseError(`listing ${collection.noun}s took longer than the sync's deadline: the listing was stopped`);
        }
        // The next page is requested before this one is validated: pages are a sequential chain, so
        // the chain only waits for WHOOP, never for our own work. The request has to leave first, too:
        // validating and writing this page would otherwise run before the request's own first steps.
        pending = page(next_token);
        await new Promise((resolve) => setImmediate(resolve));
      }
      const valid = raw.map((record, index) => parseResponse(collection.schema, record, `${collection.noun} (record ${records.length + index + 1})`));
      records.push(...valid);
      await onPage?.(valid);
      if (!next_token) return records;
    }
  }

  /**
   * One page of `collection` over `window` (newest first): its validated records and the token of the next,
   * undefined on the last page. The whole-history backfill reads one page per step (src/sync/backfill.ts).
   */
  async page<T extends z.ZodType>(
    userId: bigint,
    collection: Collection<T>,
    window: TimeWindow,
    nextToken?: string,
  ): Promise<{ records: z.infer<T>[]; nextToken: string | undefined }> {
    const response = await this.get(userId, collection.path, collection.endpoint, {
      limit: String(PAGE_LIMIT),
      start: window.start.toISOString(),
      end: window.end.toISOString(),
      nextToken,
    });
    const { records: raw, next_token } = parseResponse(pageSchema, response, `${collection.noun} page`);
    const records = raw.map((record, index) => parseResponse(collection.schema, record, `${collection.noun} (record ${index + 1})`));
    return { records, nextToken: next_token || undefined };
  }

  /** One record of `collection` by its id (`GET <path>/<id>`); a WhoopApiError with status 404 when there is none. */
  async one<T extends z.ZodType>(userId: bigint, collection: Collection<T>, id: string | bigint): Promise<z.infer<T>> {
    const record = await this.get(userId, `${collection.path}/${encodeURIComponent(String(id))}`, collection.endpoint);
    return parseResponse(collection.schema, record, collection.noun);
  }

  /**
   * The recovery of a cycle, WHOOP's only lookup of a single recovery; a WhoopApiError with status 404 when
   * there is none yet.
   */
  async recoveryOfCycle<T extends z.ZodType>(
    userId: bigint,
    recoveries: Collection<T>,
    cycleId: bigint,
  ): Promise<z.infer<T>> {
    const record = await this.get(userId, `/v2/cycle/${cycleId}/recovery`, recoveries.endpoint);
    return parseResponse(recoveries.schema, record, recoveries.noun);
  }

  async profile(userId: bigint): Promise<Profile> {
    return parseResponse(profileSchema, await this.get(userId, '/v2/user/profile/basic', 'profile'), 'profile');
  }

  async body(userId: bigint): Promise<Body> {
    return parseResponse(bodySchema, await this.get(userId, '/v2/user/measurement/body', 'body_measurement'), 'body measurement');
  }

  /** Profile and body of whoever owns `accessToken` (a grant not yet stored: a new connection). */
  async identify(accessToken: string): Promise<{ profile: Profile; body: Body }> {
    const [profile, body] = await Promise.all([
      this.send(accessToken, '/v2/user/profile/basic', 'profile'),
      this.send(accessToken, '/v2/user/measurement/body', 'body_measurement'),
    ]);
    return { profile: parseResponse(profileSchema, expectOk(profile, 'profile'), 'profile'), body: parseResponse(bodySchema, expectOk(body, 'body measurement'), 'body measurement') };
  }

  /**
   * Ends the account's grant at WHOOP (`DELETE /v2/user/access`, 204): its tokens stop working. Resolves to
   * false when WHOOP had already ended it (the stored grant cannot be refreshed, or its token is refused).
   */
  async revokeAccess(userId: bigint): Promise<boolean> {
    const revoke = (accessToken: string) =>
      this.http.request({
        method: 'DELETE',
        path: '/developer/v2/user/access',
        endpoint: 'user_access',
        headers: { authorization: `Bearer ${accessToken}` },
        idempotent: true,
      });
    let token: string;
    try {
      token = await this.guard.ensureTokenFresh(userId);
    } catch (error) {
      if (error instanceof ReauthorizationRequiredError) return false;
      throw error;
    }
    let response = await revoke(token);
    if (response.status === 401) {
      try {
        response = await revoke(await this.guard.ensureTokenFresh(userId, token));
      } catch (error) {
        if (error instanceof ReauthorizationRequiredError) return false;
        throw error;
      }
      if (response.status === 401) return false;
    }
    if (response.status !== 204 && response.status !== 200) expectOk(response, 'DELETE /v2/user/access');
    return true;
  }

  /** GET with the account's token; a 401 gets one refresh and one retry. */
  private async get(
    userId: bigint,
    path: string,
    endpoint: string,
    query?: Record<string, string | undefined>,
  ): Promise<unknown> {
    let token = await this.guard.ensureTokenFresh(userId);
    let response = await this.send(token, path, endpoint, query);
    if (response.status === 401) {
      token = await this.guard.ensureTokenFresh(userId, token);
      response = await this.send(token, path, endpoint, query);
      if (response.status === 401) {
        throw new WhoopApiError(`WHOOP refused a freshly refreshed access token for GET ${path} (HTTP 401)`, 401);
      }
    }
    return expectOk(response, path);
  }

  private send(accessToken: string, path: string, endpoint: string, query?: Record<string, string | undefined>) {
    return this.http.request({
      method: 'GET',
      path: `/developer${path}`,
      endpoint,
      query,
      headers: { authorization: `Bearer ${accessToken}` },
      idempotent: true,
    });
  }
}

function expectOk(response: { status: number; body: unknown }, what: string): unknown {
  if (response.status === 200) return response.body;
  const detail = typeof response.body === 'string' ? response.body : JSON.stringify(response.body ?? '').slice(0, 200);
  throw new WhoopApiError(`WHOOP answered HTTP ${response.status} to ${what.includes(' ') ? what : `GET ${what}`}${detail ? `: ${detail}` : ''}`, response.status);
}
