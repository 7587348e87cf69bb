// A fake WHOOP (OAuth 2.0 + Developer API v2) for tests and benchmarks. It is reached over real HTTP at the
// same base URL a user configures as WHOOP_API_URL: the service appends `/oauth/oauth2/...` and
// `/developer/v2/...` exactly as it does against api.prod.whoop.com.
//
// It is built on node:http only (no Fastify), so it cannot share a bug or a quirk with the code under test.
// It reproduces the documented and observed behaviour the service must cope with: rotating single-use
// refresh tokens, no refresh token without the `offline` scope, 25-record pages with an opaque next token,
// start-inclusive/end-exclusive windows, a sliding per-minute rate limit, and injectable faults.
import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

// ---------------------------------------------------------------------------------------------------------
// Public types: the exact JSON records the fake serves.
// ---------------------------------------------------------------------------------------------------------

type ScoreState = 'SCORED' | 'PENDING_SCORE' | 'UNSCORABLE';

interface CycleScore {
  strain: number;
  kilojoule: number;
  average_heart_rate: number;
  max_heart_rate: number;
}

export interface Cycle {
  id: number;
  user_id: number;
  created_at: string;
  updated_at: string;
  start: string;
  /** null while the cycle is in progress (the newest one). */
  end: string | null;
  timezone_offset: string;
  score_state: ScoreState;
  /** Present only when score_state is SCORED. */
  score?: CycleScore;
}

interface SleepStageSummary {
  total_in_bed_time_milli: number;
  total_awake_time_milli: number;
  total_no_data_time_milli: number;
  total_light_sleep_time_milli: number;
  total_slow_wave_sleep_time_milli: number;
  total_rem_sleep_time_milli: number;
  sleep_cycle_count: number;
  disturbance_count: number;
}

interface SleepNeeded {
  baseline_milli: number;
  need_from_sleep_debt_milli: number;
  need_from_recent_strain_milli: number;
  need_from_recent_nap_milli: number;
}

interface SleepScore {
  stage_summary: SleepStageSummary;
  sleep_needed: SleepNeeded;
  respiratory_rate: number;
  sleep_performance_percentage?: number | null;
  sleep_consistency_percentage?: number | null;
  sleep_efficiency_percentage: number;
}

export interface Sleep {
  id: string;
  cycle_id: number;
  v1_id?: number | null;
  user_id: number;
  created_at: string;
  updated_at: string;
  start: string;
  end: string;
  timezone_offset: string;
  nap: boolean;
  score_state: ScoreState;
  score?: SleepScore;
}

interface RecoveryScore {
  user_calibrating: boolean;
  recovery_score: number;
  resting_heart_rate: number;
  hrv_rmssd_milli: number;
  spo2_percentage?: number | null;
  skin_temp_celsius?: number | null;
}

export interface Recovery {
  cycle_id: number;
  sleep_id: string;
  user_id: number;
  created_at: string;
  updated_at: string;
  score_state: ScoreState;
  score?: RecoveryScore;
}

interface ZoneDurations {
  zone_zero_milli: number;
  zone_one_milli: number;
  zone_two_milli: number;
  zone_three_milli: number;
  zone_four_milli: number;
  zone_five_milli: number;
}

interface WorkoutScore {
  strain: number;
  average_heart_rate: number;
  max_heart_rate: number;
  kilojoule: number;
  percent_recorded: number;
  distance_meter?: number | null;
  altitude_gain_meter?: number | null;
  altitude_change_meter?: number | null;
  zone_durations: ZoneDurations;
}

export interface Workout {
  id: string;
  v1_id?: number | null;
  user_id: number;
  created_at: string;
  updated_at: string;
  start: string;
  end: string;
  timezone_offset: string;
  sport_name: string;
  score_state: ScoreState;
  score?: WorkoutScore;
  sport_id?: number | null;
}

/** `GET /v2/user/profile/basic`. */
interface Profile {
  user_id: number;
  email: string;
  first_name: string;
  last_name: string;
}

/** `GET /v2/user/measurement/body`. */
interface BodyMeasurement {
  height_meter: number;
  weight_kilogram: number;
  max_heart_rate: number;
}

/** A WHOOP member: the profile fields plus the body measurement. Mutable: the endpoints read it live. */
export interface Member extends Profile {
  body: BodyMeasurement;
}

interface RequestLogEntry {
  method: string;
  /** Raw path without the query, e.g. `/developer/v2/cycle`. */
  path: string;
  query: Record<string, string>;
  /** The status sent; 0 while the request is still waiting (held, delayed) or if it was never answered. */
  status: number;
  /** Arrival time, epoch milliseconds (fractional). */
  at: number;
  /** When the answer was written, epoch milliseconds (fractional); unset while unanswered. */
  answeredAt?: number;
  /** The member whose access token the request carried, whether or not it was still accepted. */
  userId?: number;
}

/** What a fault's `when` sees of a request. */
export type FaultRequest = Pick<RequestLogEntry, 'path' | 'query' | 'userId'>;
type FaultFilter = (request: FaultRequest) => boolean;

/** Epoch milliseconds with sub-millisecond resolution. */
const epochNow = () => performance.timeOrigin + performance.now();

export interface FakeWhoopStats {
  requests: RequestLogEntry[];
  /** Successful refresh_token grants. */
  refreshes: number;
  /** Successful authorization_code grants. */
  codeExchanges: number;
  /** Every `invalid_grant` answer of the token endpoint (reused/revoked refresh tokens, bad codes). */
  invalidGrants: number;
  maxConcurrentRequests: number;
  /** 429s produced by the sliding-window rate limit (not those injected with failNext). */
  rateLimited: number;
  /** The most API requests answered within any 60 s (whether or not the limit is enforced). */
  peakPerMinute: number;
}

export interface FakeWhoopOptions {
  clientId?: string;
  clientSecret?: string;
  /** Returned as expires_in; access tokens really stop working after it. Default 3600. */
  accessTokenLifetimeSeconds?: number;
  /** Fixed delay before answering every request. Default 0. */
  latencyMs?: number;
  /** Enforce a sliding 60 s window of API requests; over it → 429. Default false. */
  rateLimit?: { perMinute: number } | false;
  /**
   * List pages carry only what WHOOP's OpenAPI requires (neither `records` nor `next_token` is): an empty
   * page is `{}`, a last page has no `next_token`, and a full page that ends the window still carries a
   * `next_token`, so the page after it is `{}`. Default false: every page has both fields.
   */
  minimalPages?: boolean;
}

interface FailFault {
  status: 429 | 500 | 502 | 503;
  /** Matches `/developer/v2/...` paths, or the same path without `/developer`, or OAuth paths when given. */
  pathPrefix?: string;
  headers?: Record<string, string>;
  /** Only requests this holds for (e.g. a page with a given `nextToken`, one member's): others pass. */
  when?: FaultFilter;
}

type MalformKind = 'invalid-json' | 'truncated' | 'wrong-shape';

export interface IssuedGrant {
  access_token: string;
  refresh_token: string;
  expires_in: number;
}

export interface GenerateOptions {
  days: number;
  now?: Date;
  workoutsPerDay?: number;
  seed?: number;
}

export interface FakeWhoopData {
  cycles: Cycle[];
  sleeps: Sleep[];
  recoveries: Recovery[];
  workouts: Workout[];
}

/** A webhook notification as WHOOP posts it. */
export interface WebhookEvent {
  user_id: number;
  id: string;
  type: 'sleep.updated' | 'sleep.deleted' | 'workout.updated' | 'workout.deleted' | 'recovery.updated' | 'recovery.deleted';
  trace_id: string;
}

export interface WebhookDeliveryOptions {
  /** Waits before each retry after a non-2xx answer or a failed request; WHOOP retries about 5 times over an hour. */
  retryDelaysMs?: number[];
  /** How long one attempt may take before it counts as failed. Default 5000. */
  timeoutMs?: number;
  /** The X-WHOOP-Signature-Timestamp to send (e.g. a stale one). Default: the time of each attempt. */
  timestampMs?: number;
  /** Signs with this secret instead of the client secret (a forgery). */
  secret?: string;
}

interface WebhookDeliveryResult {
  event: WebhookEvent;
  /** The status of each attempt; 0 when the request failed or timed out. */
  attempts: number[];
  delivered: boolean;
}

export interface FakeWhoop {
  /** Base URL to give the service as WHOOP_API_URL, e.g. http://127.0.0.1:PORT (no trailing slash). */
  url: string;
  clientId: string;
  clientSecret: string;
  /** Members in creation order. */
  members: Member[];
  addMember(member?: Partial<Profile>, body?: Partial<BodyMeasurement>): Member;
  generate(userId: number, options: GenerateOptions): void;
  data: FakeWhoopData;
  issueGrant(userId: number): IssuedGrant;
  approve(authorizeUrl: string, userId: number): Promise<string>;
  stats: FakeWhoopStats;
  resetStats(): void;
  failNext(count: number, fault: FailFault): void;
  /** `when`: only pages this holds for, as failNext's. */
  malformNext(count: number, kind: MalformKind, pathPrefix?: string, when?: FaultFilter): void;
  hold(): () => void;
  setLatency(ms: number): void;
  slowNext(count: number, ms: number): void;
  expireAccessTokens(): void;
  revokeGrants(): void;
  /**
   * The member ends the app's access in WHOOP (as DELETE /v2/user/access does): their access tokens are
   * answered 401 and their refresh tokens `invalid_grant`; other members' grants keep working.
   */
  revokeMember(userId: number): void;
  /**
   * Posts a signed webhook to `url` as WHOOP does (body `{user_id, id, type, trace_id}`, a fresh trace_id
   * unless given), retrying on a non-2xx answer or a failed request.
   */
  deliverWebhook(url: string, event: Omit<WebhookEvent, 'trace_id'> & { trace_id?: string }, options?: WebhookDeliveryOptions): Promise<WebhookDeliveryResult>;
  /**
   * While on, every page of the collection (`cycle`, `recovery`, `sleep`, `workout`) carries a fresh
   * next_token, forever.
   */
  paginateForever(resource: string, on?: boolean): void;
  close(): Promise<void>;
}

/** Every scope WHOOP knows, space-separated in the `scope` parameter. */
export const WHOOP_SCOPES = [
  'offline',
  'read:recovery',
  'read:cycles',
  'read:workout',
  'read:sleep',
  'read:profile',
  'read:body_measurement',
] as const;

// ---------------------------------------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------------------------------------

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const DEFAULT_PAGE_LIMIT = 10;
const MAX_PAGE_LIMIT = 25;
const DEFAULT_PER_MINUTE = 100; // reported in headers even when the limit is not enforced
const PER_DAY = 10_000;
const FIRST_USER_ID = 10129;
const FIRST_CYCLE_ID = 93_845;
const FIRST_V1_ID = 1_043_000;
const CODE_LIFETIME_MS = 10 * MINUTE;
const MAX_FORM_BYTES = 64 * 1024;
/** Set by approve(): which logged-in member the "browser" belongs to. */
const APPROVER_HEADER = 'x-fake-whoop-approver';
/** WHOOP's retry spacing, roughly: 5 retries over about an hour. */
const WEBHOOK_RETRY_DELAYS_MS = [MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE];
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

// ---------------------------------------------------------------------------------------------------------
// Entry point
// ---------------------------------------------------------------------------------------------------------

export async function startFakeWhoop(options: FakeWhoopOptions = {}): Promise<FakeWhoop> {
  const fake = new FakeWhoopServer(options);
  await fake.listen();
  return fake;
}

// ---------------------------------------------------------------------------------------------------------
// Small building blocks
// ---------------------------------------------------------------------------------------------------------

/** What a handler answers; written by one function so status logging and headers stay consistent. */
interface Reply {
  status: number;
  json?: unknown;
  text?: string;
  headers?: Record<string, string>;
}

function jsonReply(status: number, json: unknown, headers?: Record<string, string>): Reply {
  return headers ? { status, json, headers } : { status, json };
}

function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** Delays that close() can cut short, so a closing fake never keeps the test process alive. */
class Timers {
  private readonly pending = new Set<() => void>();

  sleep(ms: number): Promise<void> {
    if (!(ms > 0)) return Promise.resolve();
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.pending.delete(finish);
        resolve();
      };
      const timer = setTimeout(finish, ms);
      this.pending.add(finish);
    });
  }

  wakeAll(): void {
    for (const finish of [...this.pending]) finish();
  }
}

/** hold(): API requests wait here while at least one hold is unreleased. */
class Gate {
  private holds = 0;
  private waiters: Array<() => void> = [];

  hold(): () => void {
    this.holds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holds--;
      if (this.holds === 0) this.openAll();
    };
  }

  get holding(): boolean {
    return this.holds > 0;
  }

  wait(): Promise<void> {
    if (this.holds === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Lets every waiter through (also used by close()). */
  openAll(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }
}

interface WindowVerdict {
  allowed: boolean;
  remaining: number;
  resetSeconds: number;
  /** Requests in the window, this one included when allowed. */
  inWindow: number;
}

/** A true sliding 60 s window: a slot frees exactly 60 s after the request that took it. */
class SlidingWindow {
  private hits: number[] = [];
  private head = 0; // index of the oldest hit still in the window (avoids O(n) shift() under load)

  constructor(
    readonly limit: number,
    private readonly windowMs = MINUTE,
  ) {}

  take(now: number, enforce: boolean): WindowVerdict {
    this.prune(now);
    const inWindow = this.hits.length - this.head;
    if (enforce && inWindow >= this.limit) {
      return { allowed: false, remaining: 0, resetSeconds: this.secondsUntilSlot(now), inWindow };
    }
    this.hits.push(now);
    return {
      allowed: true,
      remaining: Math.max(0, this.limit - inWindow - 1),
      resetSeconds: this.secondsUntilSlot(now),
      inWindow: inWindow + 1,
    };
  }

  private prune(now: number): void {
    while (this.head < this.hits.length && this.hits[this.head]! <= now - this.windowMs) this.head++;
    if (this.head > 1024 && this.head * 2 > this.hits.length) {
      this.hits = this.hits.slice(this.head);
      this.head = 0;
    }
  }

  private secondsUntilSlot(now: number): number {
    const oldest = this.hits[this.head];
    if (oldest === undefined) return Math.ceil(this.windowMs / SECOND);
    return Math.max(1, Math.ceil((oldest + this.windowMs - now) / SECOND));
  }
}

function rateLimitHeaders(limit: number, remaining: number, resetSeconds: number): Record<string, string> {
  return {
    'X-RateLimit-Limit': `${limit}, ${limit};window=60, ${PER_DAY};window=86400`,
    'X-RateLimit-Remaining': String(remaining),
    'X-RateLimit-Reset': String(resetSeconds),
  };
}

/** Counted queue entries for failNext/malformNext/slowNext: the first matching entry is consumed. */
interface Counted<T> {
  remaining: number;
  value: T;
}

function takeFirst<T>(queue: Array<Counted<T>>, matches: (value: T) => boolean): T | undefined {
  const index = queue.findIndex((entry) => entry.remaining > 0 && matches(entry.value));
  if (index === -1) return undefined;
  const entry = queue[index]!;
  entry.remaining--;
  if (entry.remaining <= 0) queue.splice(index, 1);
  return entry.value;
}

function assertCount(count: number): void {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`count must be a positive integer, got ${count}`);
}

/** A path prefix matches with or without the `/developer` base, so `/v2/cycle` works as well. */
function pathMatches(path: string, prefix: string | undefined, isApi: boolean): boolean {
  if (prefix === undefined) return isApi;
  return path.startsWith(prefix) || (isApi && path.slice('/developer'.length).startsWith(prefix));
}

/** A fault's path prefix and `when` both hold for the request. */
function faultMatches(fault: { pathPrefix?: string; when?: FaultFilter }, request: FaultRequest, isApi: boolean) {
  return pathMatches(request.path, fault.pathPrefix, isApi) && (fault.when?.(request) ?? true);
}

async function readBody(req: IncomingMessage, maxBytes: number): Promise<string | 'too-large' | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    // Keep draining after the limit so the 413 can still be written on a healthy connection.
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size <= maxBytes) chunks.push(chunk);
    }
  } catch {
    return undefined; // client went away
  }
  return size > maxBytes ? 'too-large' : Buffer.concat(chunks).toString('utf8');
}

function parseTime(raw: string | null): number | null | 'invalid' {
  if (raw === null) return null;
  if (!RFC3339.test(raw)) return 'invalid';
  const ms = Date.parse(raw.toUpperCase());
  return Number.isNaN(ms) ? 'invalid' : ms;
}

function parseLimit(raw: string | null): number | 'invalid' {
  if (raw === null) return DEFAULT_PAGE_LIMIT;
  if (!/^\d{1,3}$/.test(raw)) return 'invalid';
  const limit = Number(raw);
  return limit >= 1 && limit <= MAX_PAGE_LIMIT ? limit : 'invalid';
}

// ---------------------------------------------------------------------------------------------------------
// OAuth state
// ---------------------------------------------------------------------------------------------------------

interface Grant {
  userId: number;
  scopes: string[];
  accessToken: string;
  refreshToken: string | null;
}

interface AccessTokenState {
  grant: Grant;
  expiresAt: number;
  revoked: boolean;
}

interface RefreshTokenState {
  grant: Grant;
  /** false once used (rotation), revoked, or its grant was deleted. */
  usable: boolean;
}

interface PendingCode {
  userId: number;
  scopes: string[];
  redirectUri: string;
  expiresAt: number;
}

interface TokenResponse {
  access_token: string;
  expires_in: number;
  refresh_token?: string;
  scope: string;
  token_type: 'bearer';
}

class OAuthStore {
  readonly codes = new Map<string, PendingCode>();
  private readonly accessTokens = new Map<string, AccessTokenState>();
  private readonly refreshTokens = new Map<string, RefreshTokenState>();

  constructor(private readonly lifetimeSeconds: number) {}

  /** Creates a grant (one per approval) and its first token pair. */
  createGrant(userId: number, scopes: string[]): TokenResponse {
    const grant: Grant = { userId, scopes, accessToken: '', refreshToken: null };
    return this.mint(grant, scopes.includes('offline'));
  }

  /** Rotation: the refresh token and the grant's current access token die; a new pair is issued. */
  refresh(refreshToken: string, requestedScopes: string[]): TokenResponse | undefined {
    const state = this.refreshTokens.get(refreshToken);
    if (!state || !state.usable) return undefined;
    state.usable = false;
    this.revokeAccess(state.grant.accessToken);
    // Strict reading of the docs: a new refresh token only when the refresh asks for `offline` again.
    return this.mint(state.grant, requestedScopes.includes('offline'));
  }

  userFor(accessToken: string, now: number): number | undefined {
    const state = this.accessTokens.get(accessToken);
    if (!state || state.revoked || now >= state.expiresAt) return undefined;
    return state.grant.userId;
  }

  /** DELETE /v2/user/access: the whole grant stops working. */
  revokeGrantOf(accessToken: string): void {
    const state = this.accessTokens.get(accessToken);
    if (!state) return;
    this.revokeAccess(state.grant.accessToken);
    const refresh = state.grant.refreshToken && this.refreshTokens.get(state.grant.refreshToken);
    if (refresh) refresh.usable = false;
  }

  expireAllAccessTokens(): void {
    for (const state of this.accessTokens.values()) state.revoked = true;
  }

  revokeAllRefreshTokens(): void {
    for (const state of this.refreshTokens.values()) state.usable = false;
  }

  revokeUser(userId: number): void {
    for (const state of this.accessTokens.values()) if (state.grant.userId === userId) state.revoked = true;
    for (const state of this.refreshTokens.values()) if (state.grant.userId === userId) state.usable = false;
  }

  /** Whose token this is, expired or revoked alike. */
  ownerOf(accessToken: string): number | undefined {
    return this.accessTokens.get(accessToken)?.grant.userId;
  }

  private revokeAccess(accessToken: string): void {
    const state = this.accessTokens.get(accessToken);
    if (state) state.revoked = true;
  }

  private mint(grant: Grant, withRefreshToken: boolean): TokenResponse {
    const accessToken = randomToken();
    this.accessTokens.set(accessToken, {
      grant,
      expiresAt: Date.now() + this.lifetimeSeconds * SECOND,
      revoked: false,
    });
    grant.accessToken = accessToken;
    grant.refreshToken = null;
    const response: TokenResponse = {
      access_token: accessToken,
      expires_in: this.lifetimeSeconds,
      scope: grant.scopes.join(' '),
      token_type: 'bearer',
    };
    if (withRefreshToken) {
      const refreshToken = randomToken();
      this.refreshTokens.set(refreshToken, { grant, usable: true });
      grant.refreshToken = refreshToken;
      response.refresh_token = refreshToken;
    }
    return response;
  }
}

function parseScopes(raw: string | null): string[] {
  return (raw ?? '').split(/[\s+]+/).filter((scope) => scope.length > 0);
}

function oauthError(status: number, error: string, description: string): Reply {
  return jsonReply(status, { error, error_description: description }, { 'Cache-Control': 'no-store' });
}

function isFormEncoded(req: IncomingMessage): boolean {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  return type === 'application/x-www-form-urlencoded';
}

// ---------------------------------------------------------------------------------------------------------
// Pagination
// ---------------------------------------------------------------------------------------------------------

/** Position of a record in newest-first order: by start, ties broken by id (also descending). */
interface SortKey {
  startMs: number;
  id: number | string;
}

function compareIds(a: number | string, b: number | string): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}

/** Negative when `a` comes first (is newer). */
function newestFirst(a: SortKey, b: SortKey): number {
  return b.startMs !== a.startMs ? b.startMs - a.startMs : compareIds(b.id, a.id);
}

interface ListSource<T extends { user_id: number }> {
  resource: string;
  records: readonly T[];
  /** undefined = the record cannot be placed in time (e.g. a recovery whose sleep is gone): never listed. */
  key(record: T): SortKey | undefined;
}

/**
 * What an opaque next token stands for. Keyset pagination (after the last record served) keeps pages
 * stable and never skips or repeats while the data does not change; the window the token was issued for
 * is remembered so a token reused with another start/end is refused, as the service must not do that.
 */
interface PageCursor {
  resource: string;
  userId: number;
  start: number | null;
  end: number | null;
  effectiveEnd: number;
  after: SortKey | undefined;
}

class Paginator {
  private readonly cursors = new Map<string, PageCursor>();
  /** Resources whose pages never end (see paginateForever). */
  readonly endless = new Set<string>();

  constructor(private readonly minimal: boolean) {}

  list<T extends { user_id: number }>(
    source: ListSource<T>,
    userId: number,
    query: URLSearchParams,
    now: number,
  ): Reply {
    const limit = parseLimit(query.get('limit'));
    if (limit === 'invalid') return jsonReply(400, { error: `limit must be an integer from 1 to ${MAX_PAGE_LIMIT}` });
    const start = parseTime(query.get('start'));
    const end = parseTime(query.get('end'));
    if (start === 'invalid' || end === 'invalid') return jsonReply(400, { error: 'start and end must be RFC 3339 date-times' });

    const token = query.get('nextToken');
    let cursor: PageCursor | undefined;
    if (token !== null && token !== '') {
      cursor = this.cursors.get(token);
      if (!cursor || cursor.resource !== source.resource || cursor.userId !== userId) {
        return jsonReply(400, { error: 'invalid nextToken' });
      }
      if (cursor.start !== start || cursor.end !== end) {
        return jsonReply(400, { error: 'nextToken was issued for a different start/end' });
      }
    }
    // A defaulted end ("now") is frozen by the first page so later pages see the same window.
    const effectiveEnd = cursor?.effectiveEnd ?? end ?? now;

    const matching = this.inWindow(source, userId, start, effectiveEnd, cursor?.after);
    const page = matching.slice(0, limit);
    const last = page[page.length - 1];
    const more = this.minimal ? matching.length >= limit : matching.length > limit;
    let nextToken: string | null = null;
    if (more && last) {
      nextToken = this.issue({ resource: source.resource, userId, start, end, effectiveEnd, after: last.key });
    }
    else if (this.endless.has(source.resource)) {
      nextToken = this.issue({ resource: source.resource, userId, start, end, effectiveEnd, after: cursor?.after });
    }
    if (!this.minimal) return jsonReply(200, { records: page.map((item) => item.record), next_token: nextToken });
    return jsonReply(200, {
      ...(page.length > 0 ? { records: page.map((item) => item.record) } : {}),
      ...(nextToken ? { next_token: nextToken } : {}),
    });
  }

  private inWindow<T extends { user_id: number }>(
    source: ListSource<T>,
    userId: number,
    start: number | null,
    end: number,
    after: SortKey | undefined,
  ): Array<{ record: T; key: SortKey }> {
    const found: Array<{ record: T; key: SortKey }> = [];
    for (const record of source.records) {
      if (record.user_id !== userId) continue;
      const key = source.key(record);
      if (!key || Number.isNaN(key.startMs)) continue;
      if (start !== null && key.startMs < start) continue; // start is inclusive
      if (key.startMs >= end) continue; // end is exclusive
      if (after && newestFirst(key, after) <= 0) continue; // already served on an earlier page
      found.push({ record, key });
    }
    return found.sort((a, b) => newestFirst(a.key, b.key));
  }

  private issue(cursor: PageCursor): string {
    const token = randomToken(18);
    this.cursors.set(token, cursor);
    return token;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Realistic data generation (deterministic for a seed)
// ---------------------------------------------------------------------------------------------------------

/** mulberry32: tiny, fast, good enough for test data, and identical on every platform. */
class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  between(min: number, max: number): number {
    return min + (max - min) * this.next();
  }

  /** Inclusive of both ends. */
  int(min: number, max: number): number {
    return Math.floor(this.between(min, max + 1));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

function hashToUint32(text: string): number {
  return createHash('sha256').update(text).digest().readUInt32BE(0);
}

/** A v4-shaped UUID derived from its inputs: deterministic per seed, unique because cycle ids are. */
function derivedUuid(...parts: Array<string | number>): string {
  const bytes = createHash('sha256').update(parts.join(':')).digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const TIMEZONES: ReadonlyArray<{ label: string; minutes: number }> = [
  { label: '-05:00', minutes: -300 },
  { label: '-04:00', minutes: -240 },
  { label: '-08:00', minutes: -480 },
  { label: 'Z', minutes: 0 },
  { label: '+01:00', minutes: 60 },
  { label: '+02:00', minutes: 120 },
  { label: '+05:30', minutes: 330 },
  { label: '+10:00', minutes: 600 },
];

/** How each sport reports distance/altitude: values, explicit nulls, or absent keys (all seen in the wild). */
type SportMetrics = 'outdoor' | 'distance-only' | 'null' | 'absent';

const SPORTS: ReadonlyArray<{ name: string; id: number; metrics: SportMetrics; speed: [number, number] }> = [
  { name: 'running', id: 0, metrics: 'outdoor', speed: [2.4, 4.2] },
  { name: 'cycling', id: 1, metrics: 'outdoor', speed: [5, 9] },
  { name: 'walking', id: 63, metrics: 'outdoor', speed: [1.1, 1.7] },
  { name: 'swimming', id: 33, metrics: 'distance-only', speed: [0.6, 1.1] },
  { name: 'weightlifting', id: 45, metrics: 'null', speed: [0, 0] },
  { name: 'functional-fitness', id: 48, metrics: 'null', speed: [0, 0] },
  { name: 'yoga', id: 44, metrics: 'absent', speed: [0, 0] },
];

interface IdCounters {
  cycle: number;
  v1: number;
}

/** Everything the record builders of one generate() call share. */
interface GenerationContext {
  rng: Random;
  member: Member;
  seed: number;
  now: number;
  zone: { label: string; minutes: number };
  hasSensors: boolean;
  ids: IdCounters;
}

/** Per day: the cycle it belongs to and the waking hours in which naps and workouts can happen. */
interface DayPlan {
  cycleId: number;
  cycleStart: number;
  cycleEnd: number | null;
  /** Records older than two weeks carry the deprecated v1 ids, newer ones do not. */
  legacy: boolean;
  newest: boolean;
  dayStart: number;
  dayEnd: number;
}

function generateHistory(member: Member, options: GenerateOptions, ids: IdCounters): FakeWhoopData {
  const seed = options.seed ?? 1;
  const rng = new Random(hashToUint32(`${seed}:${member.user_id}`));
  const ctx: GenerationContext = {
    rng,
    member,
    seed,
    now: (options.now ?? new Date()).getTime(),
    zone: rng.pick(TIMEZONES),
    hasSensors: rng.chance(0.8), // WHOOP 4.0 reports SpO2 and skin temperature; older straps omit them
    ids,
  };
  const out: FakeWhoopData = { cycles: [], sleeps: [], recoveries: [], workouts: [] };
  for (const plan of planDays(ctx, options.days)) addDay(ctx, plan, options.workoutsPerDay ?? 1, out);
  return out;
}

/** UTC time of local midnight starting local day number `day` (days since the epoch in the member's zone). */
function localMidnight(day: number, ctx: GenerationContext): number {
  return day * DAY - ctx.zone.minutes * MINUTE;
}

function planDays(ctx: GenerationContext, days: number): DayPlan[] {
  const localNow = ctx.now + ctx.zone.minutes * MINUTE;
  // The latest main sleep ends by 08:30 local; before 10:00 the morning's sleep may still be running, so the
  // newest complete day is yesterday. This keeps every record in the past.
  const today = Math.floor(localNow / DAY);
  const newestDay = localNow - today * DAY < 10 * HOUR ? today - 1 : today;
  const starts = Array.from({ length: days }, (_, i) => {
    const day = newestDay - (days - 1 - i);
    // The cycle begins when the member falls asleep the evening before: 22:00–23:30 local.
    return { day, start: localMidnight(day, ctx) - ctx.rng.int(30 * MINUTE, 120 * MINUTE) };
  });
  return starts.map(({ day, start }, i) => {
    const newest = i === days - 1;
    const dayEnd = Math.min(localMidnight(day, ctx) + 21 * HOUR, ctx.now - 5 * MINUTE);
    return {
      cycleId: ctx.ids.cycle++,
      cycleStart: start,
      cycleEnd: newest ? null : starts[i + 1]!.start,
      legacy: ctx.now - start > 14 * DAY,
      newest,
      dayStart: 0, // set once the main sleep's end is known
      dayEnd,
    };
  });
}

function addDay(ctx: GenerationContext, plan: DayPlan, workoutsPerDay: number, out: FakeWhoopData): void {
  const { rng } = ctx;
  const mainSleep = makeSleep(ctx, plan, plan.cycleStart, rng.int(6 * HOUR, 8.5 * HOUR), false, 0);
  plan.dayStart = Date.parse(mainSleep.end) + HOUR;
  out.cycles.push(makeCycle(ctx, plan));
  out.sleeps.push(mainSleep);
  out.recoveries.push(makeRecovery(ctx, plan, mainSleep));

  // Waking hours are split in equal slots: workouts take some, an occasional nap another, so none overlap.
  const slotCount = workoutsPerDay + 1;
  const slotLength = (plan.dayEnd - plan.dayStart) / slotCount;
  const napSlot = Math.min(1, workoutsPerDay);
  for (let slot = 0; slot < slotCount; slot++) {
    const slotStart = Math.round(plan.dayStart + slot * slotLength);
    if (slot === napSlot) {
      if (!plan.newest && slotLength >= HOUR && rng.chance(0.15)) {
        const length = rng.int(20 * MINUTE, Math.min(50 * MINUTE, slotLength * 0.8));
        out.sleeps.push(makeSleep(ctx, plan, slotStart + rng.int(0, slotLength - length), length, true, slot));
      }
      continue;
    }
    if (slotLength < 25 * MINUTE) continue; // not enough waking time left (e.g. early on the newest day)
    const length = rng.int(20 * MINUTE, Math.min(95 * MINUTE, slotLength * 0.9));
    out.workouts.push(makeWorkout(ctx, plan, slotStart + rng.int(0, slotLength - length), length, slot));
  }
}

/** created_at/updated_at never lie in the future, whatever the offsets. */
function stamp(ctx: GenerationContext, ms: number): string {
  return new Date(Math.min(ms, ctx.now)).toISOString();
}

function makeCycle(ctx: GenerationContext, plan: DayPlan): Cycle {
  const { rng } = ctx;
  const created = plan.cycleStart + rng.int(1 * MINUTE, 5 * MINUTE);
  const cycle: Cycle = {
    id: plan.cycleId,
    user_id: ctx.member.user_id,
    created_at: stamp(ctx, created),
    updated_at: stamp(
      ctx,
      plan.cycleEnd === null
        ? ctx.now - rng.int(1 * MINUTE, 30 * MINUTE)
        : plan.cycleEnd + rng.int(5 * MINUTE, 60 * MINUTE),
    ),
    start: new Date(plan.cycleStart).toISOString(),
    end: plan.cycleEnd === null ? null : new Date(plan.cycleEnd).toISOString(),
    timezone_offset: ctx.zone.label,
    score_state: plan.cycleEnd === null ? 'PENDING_SCORE' : 'SCORED',
  };
  if (cycle.updated_at < cycle.created_at) cycle.updated_at = cycle.created_at;
  if (plan.cycleEnd !== null) {
    cycle.score = {
      strain: round(rng.between(4, 19.5), 6),
      kilojoule: round(rng.between(6500, 14500), 4),
      average_heart_rate: rng.int(54, 76),
      max_heart_rate: rng.int(128, Math.max(128, ctx.member.body.max_heart_rate)),
    };
  }
  return cycle;
}

function makeSleep(
  ctx: GenerationContext,
  plan: DayPlan,
  start: number,
  length: number,
  nap: boolean,
  n: number,
): Sleep {
  const { rng } = ctx;
  const end = start + length;
  const created = end + rng.int(2 * MINUTE, 20 * MINUTE);
  const sleep: Sleep = {
    id: derivedUuid(ctx.seed, plan.cycleId, 'sleep', n),
    cycle_id: plan.cycleId,
    // Deprecated v1 ids exist only on records from before v2 (here: older than two weeks).
    ...(plan.legacy ? { v1_id: ctx.ids.v1++ } : {}),
    user_id: ctx.member.user_id,
    created_at: stamp(ctx, created),
    updated_at: stamp(ctx, created + rng.int(0, 30 * MINUTE)),
    start: new Date(start).toISOString(),
    end: new Date(end).toISOString(),
    timezone_offset: ctx.zone.label,
    nap,
    score_state: 'SCORED',
    score: sleepScore(rng, length, nap),
  };
  return sleep;
}

function sleepScore(rng: Random, inBed: number, nap: boolean): SleepScore {
  const awake = Math.round(inBed * rng.between(0.04, 0.12));
  const noData = rng.chance(0.1) ? rng.int(0, 15 * MINUTE) : 0;
  const asleep = inBed - awake - noData;
  const slowWave = Math.round(asleep * rng.between(0.15, 0.25));
  const rem = Math.round(asleep * rng.between(0.18, 0.27));
  const score: SleepScore = {
    stage_summary: {
      total_in_bed_time_milli: inBed,
      total_awake_time_milli: awake,
      total_no_data_time_milli: noData,
      total_light_sleep_time_milli: asleep - slowWave - rem,
      total_slow_wave_sleep_time_milli: slowWave,
      total_rem_sleep_time_milli: rem,
      sleep_cycle_count: nap ? rng.int(0, 1) : rng.int(3, 6),
      disturbance_count: nap ? rng.int(0, 3) : rng.int(4, 20),
    },
    sleep_needed: {
      baseline_milli: rng.int(25_000_000, 30_000_000),
      need_from_sleep_debt_milli: rng.int(0, 3_000_000),
      need_from_recent_strain_milli: rng.int(0, 1_500_000),
      need_from_recent_nap_milli: rng.chance(0.2) ? -rng.int(1, 1_800_000) : 0,
    },
    respiratory_rate: round(rng.between(13.5, 17.5), 6),
    sleep_performance_percentage: rng.int(55, 100),
    sleep_consistency_percentage: rng.int(45, 95),
    sleep_efficiency_percentage: round((asleep / inBed) * 100, 6),
  };
  // Naps have no performance (explicit null) and no consistency (key absent): both forms occur.
  if (nap) {
    score.sleep_performance_percentage = null;
    delete score.sleep_consistency_percentage;
  }
  return score;
}

function makeRecovery(ctx: GenerationContext, plan: DayPlan, sleep: Sleep): Recovery {
  const { rng } = ctx;
  const created = Date.parse(sleep.end) + rng.int(3 * MINUTE, 20 * MINUTE);
  const state: ScoreState = plan.newest && rng.chance(0.5) ? 'PENDING_SCORE' : !plan.newest && rng.chance(0.03) ? 'UNSCORABLE' : 'SCORED';
  const recovery: Recovery = {
    cycle_id: plan.cycleId,
    sleep_id: sleep.id,
    user_id: ctx.member.user_id,
    created_at: stamp(ctx, created),
    updated_at: stamp(ctx, created + rng.int(0, 20 * MINUTE)),
    score_state: state,
  };
  if (state !== 'SCORED') return recovery;
  const score: RecoveryScore = {
    user_calibrating: rng.chance(0.02),
    recovery_score: rng.int(8, 99),
    resting_heart_rate: rng.int(44, 66),
    hrv_rmssd_milli: round(rng.between(25, 120), 6),
  };
  if (ctx.hasSensors) {
    score.spo2_percentage = round(rng.between(94, 99.5), 4);
    score.skin_temp_celsius = round(rng.between(32.8, 35.2), 6);
  }
  return { ...recovery, score };
}

function makeWorkout(ctx: GenerationContext, plan: DayPlan, start: number, length: number, n: number): Workout {
  const { rng } = ctx;
  const sport = rng.pick(SPORTS);
  const end = start + length;
  const created = end + rng.int(1 * MINUTE, 10 * MINUTE);
  const workout: Workout = {
    id: derivedUuid(ctx.seed, plan.cycleId, 'workout', n),
    ...(plan.legacy ? { v1_id: ctx.ids.v1++ } : {}),
    user_id: ctx.member.user_id,
    created_at: stamp(ctx, created),
    updated_at: stamp(ctx, created + rng.int(0, 5 * MINUTE)),
    start: new Date(start).toISOString(),
    end: new Date(end).toISOString(),
    timezone_offset: ctx.zone.label,
    sport_name: sport.name,
    score_state: 'SCORED',
    score: workoutScore(ctx, sport, length),
  };
  // The deprecated sport_id is on most workouts but not all: the service must not rely on it.
  if (rng.chance(0.7)) workout.sport_id = sport.id;
  return workout;
}

function workoutScore(ctx: GenerationContext, sport: (typeof SPORTS)[number], length: number): WorkoutScore {
  const { rng } = ctx;
  const averageHeartRate = rng.int(105, 160);
  const score: WorkoutScore = {
    strain: round(rng.between(4, 17.5), 6),
    average_heart_rate: averageHeartRate,
    max_heart_rate: Math.min(ctx.member.body.max_heart_rate, averageHeartRate + rng.int(12, 50)),
    kilojoule: round((length / MINUTE) * rng.between(25, 55), 4),
    // Observed as a 0–1 fraction although the spec says 0–100.
    percent_recorded: rng.chance(0.6) ? 1 : round(rng.between(0.9, 1), 4),
    zone_durations: zoneDurations(rng, length),
  };
  const distance = round((length / SECOND) * rng.between(...sport.speed), 4);
  if (sport.metrics === 'outdoor') {
    score.distance_meter = distance;
    score.altitude_gain_meter = round(rng.between(0, 250), 4);
    score.altitude_change_meter = round(rng.between(-20, 20), 4);
  } else if (sport.metrics === 'distance-only') {
    score.distance_meter = distance;
    score.altitude_gain_meter = null;
    score.altitude_change_meter = null;
  } else if (sport.metrics === 'null') {
    score.distance_meter = null;
    score.altitude_gain_meter = null;
    score.altitude_change_meter = null;
  }
  return score;
}

function zoneDurations(rng: Random, length: number): ZoneDurations {
  const weights = [
    rng.between(0.02, 0.1),
    rng.between(0.1, 0.3),
    rng.between(0.2, 0.4),
    rng.between(0.1, 0.3),
    rng.between(0, 0.15),
    rng.between(0, 0.05),
  ];
  const total = weights.reduce((sum, weight) => sum + weight, 0);
  const parts = weights.map((weight) => Math.floor((length * weight) / total));
  parts[2]! += length - parts.reduce((sum, part) => sum + part, 0); // rounding remainder: sums to the length
  const [zero, one, two, three, four, five] = parts as [number, number, number, number, number, number];
  return {
    zone_zero_milli: zero,
    zone_one_milli: one,
    zone_two_milli: two,
    zone_three_milli: three,
    zone_four_milli: four,
    zone_five_milli: five,
  };
}

// ---------------------------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------------------------

interface Target {
  path: string;
  query: URLSearchParams;
}

/** The raw request target split by hand: `new URL()` would treat `//host/x` as another host. */
function parseTarget(rawUrl: string): Target {
  const mark = rawUrl.indexOf('?');
  return {
    path: mark === -1 ? rawUrl : rawUrl.slice(0, mark),
    query: new URLSearchParams(mark === -1 ? '' : rawUrl.slice(mark + 1)),
  };
}

type ApiHandler = (userId: number, params: string[], query: URLSearchParams, accessToken: string) => Reply;

interface ApiRoute {
  method: string;
  pattern: RegExp;
  handler: ApiHandler;
}

const UUID = '([0-9a-fA-F-]{36})';

class FakeWhoopServer implements FakeWhoop {
  url = '';
  readonly clientId: string;
  readonly clientSecret: string;
  readonly members: Member[] = [];
  data: FakeWhoopData = { cycles: [], sleeps: [], recoveries: [], workouts: [] };
  stats: FakeWhoopStats = emptyStats();

  private readonly server: Server;
  private readonly oauth: OAuthStore;
  private readonly paginator: Paginator;
  private readonly window: SlidingWindow;
  private readonly enforceRateLimit: boolean;
  private readonly timers = new Timers();
  private readonly gate = new Gate();
  private readonly routes: ApiRoute[];
  private readonly ids: IdCounters = { cycle: FIRST_CYCLE_ID, v1: FIRST_V1_ID };
  private latencyMs: number;
  private inFlight = 0;
  private nextUserId = FIRST_USER_ID;
  private failures: Array<Counted<FailFault>> = [];
  private malformations: Array<Counted<{ kind: MalformKind; pathPrefix?: string; when?: FaultFilter }>> = [];
  private slowdowns: Array<Counted<number>> = [];
  private closing = false;
  private closed: Promise<void> | undefined;

  constructor(options: FakeWhoopOptions) {
    this.clientId = options.clientId ?? 'test-client-id';
    this.clientSecret = options.clientSecret ?? 'test-client-secret';
    this.latencyMs = options.latencyMs ?? 0;
    this.oauth = new OAuthStore(options.accessTokenLifetimeSeconds ?? 3600);
    this.enforceRateLimit = options.rateLimit !== undefined && options.rateLimit !== false;
    this.window = new SlidingWindow(options.rateLimit ? options.rateLimit.perMinute : DEFAULT_PER_MINUTE);
    this.paginator = new Paginator(options.minimalPages ?? false);
    this.routes = this.apiRoutes();
    this.server = createServer((req, res) => {
      this.handle(req, res).catch(() => this.answerCrash(res));
    });
    // Garbage on the wire (bad request lines, oversized headers, resets) must never take the fake down.
    this.server.on('clientError', (_error, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      else socket.destroy();
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  // ----- members and data ------------------------------------------------------------------------------

  addMember(member: Partial<Profile> = {}, body: Partial<BodyMeasurement> = {}): Member {
    let userId = member.user_id;
    if (userId === undefined) {
      while (this.findMember(this.nextUserId)) this.nextUserId++;
      userId = this.nextUserId++;
    }
    if (this.findMember(userId)) throw new Error(`member ${userId} already exists`);
    const index = this.members.length;
    const created: Member = {
      user_id: userId,
      email: member.email ?? `member${userId}@example.com`,
      first_name: member.first_name ?? ['Ada', 'Grace', 'Alan', 'Linus', 'Barbara'][index % 5]!,
      last_name: member.last_name ?? ['Lovelace', 'Hopper', 'Turing', 'Torvalds', 'Liskov'][index % 5]!,
      body: {
        height_meter: body.height_meter ?? 1.6 + (index % 5) * 0.06,
        weight_kilogram: body.weight_kilogram ?? 60 + (index % 5) * 7.5,
        max_heart_rate: body.max_heart_rate ?? 200 - (index % 5) * 4,
      },
    };
    this.members.push(created);
    return created;
  }

  generate(userId: number, options: GenerateOptions): void {
    const member = this.requireMember(userId);
    if (!Number.isInteger(options.days) || options.days < 1) throw new RangeError('days must be a positive integer');
    const perDay = options.workoutsPerDay ?? 1;
    if (!Number.isInteger(perDay) || perDay < 0) throw new RangeError('workoutsPerDay must be a non-negative integer');
    const generated = generateHistory(member, options, this.ids);
    this.data.cycles.push(...generated.cycles);
    this.data.sleeps.push(...generated.sleeps);
    this.data.recoveries.push(...generated.recoveries);
    this.data.workouts.push(...generated.workouts);
  }

  issueGrant(userId: number): IssuedGrant {
    this.requireMember(userId);
    const tokens = this.oauth.createGrant(userId, [...WHOOP_SCOPES]);
    return { access_token: tokens.access_token, refresh_token: tokens.refresh_token!, expires_in: tokens.expires_in };
  }

  async approve(authorizeUrl: string, userId: number): Promise<string> {
    const response = await fetch(authorizeUrl, { redirect: 'manual', headers: { [APPROVER_HEADER]: String(userId) } });
    const body = await response.text();
    const location = response.headers.get('location');
    if (response.status !== 302 || !location) {
      throw new Error(`fake WHOOP refused the authorization (${response.status}): ${body}`);
    }
    return location;
  }

  // ----- observation and faults -------------------------------------------------------------------------

  resetStats(): void {
    Object.assign(this.stats, emptyStats(), { maxConcurrentRequests: this.inFlight });
  }

  failNext(count: number, fault: FailFault): void {
    assertCount(count);
    this.failures.push({ remaining: count, value: { ...fault } });
  }

  malformNext(count: number, kind: MalformKind, pathPrefix?: string, when?: FaultFilter): void {
    assertCount(count);
    this.malformations.push({ remaining: count, value: { kind, pathPrefix, when } });
  }

  hold(): () => void {
    return this.gate.hold();
  }

  setLatency(ms: number): void {
    this.latencyMs = ms;
  }

  slowNext(count: number, ms: number): void {
    assertCount(count);
    this.slowdowns.push({ remaining: count, value: ms });
  }

  expireAccessTokens(): void {
    this.oauth.expireAllAccessTokens();
  }

  revokeGrants(): void {
    this.oauth.revokeAllRefreshTokens();
  }

  revokeMember(userId: number): void {
    this.oauth.revokeUser(userId);
  }

  async deliverWebhook(
    url: string,
    event: Omit<WebhookEvent, 'trace_id'> & { trace_id?: string },
    options: WebhookDeliveryOptions = {},
  ): Promise<WebhookDeliveryResult> {
    const full: WebhookEvent = {
      user_id: event.user_id,
      id: event.id,
      type: event.type,
      trace_id: event.trace_id ?? randomUUID(),
    };
    const body = JSON.stringify(full);
    const delays = options.retryDelaysMs ?? WEBHOOK_RETRY_DELAYS_MS;
    const attempts: number[] = [];
    for (let attempt = 0; attempt <= delays.length && !this.closing; attempt++) {
      if (attempt > 0) await this.timers.sleep(delays[attempt - 1]!);
      const timestamp = String(options.timestampMs ?? Date.now());
      const signature = createHmac('sha256', options.secret ?? this.clientSecret).update(timestamp + body).digest('base64');
      let status: number;
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-whoop-signature': signature, 'x-whoop-signature-timestamp': timestamp },
          body,
          signal: AbortSignal.timeout(options.timeoutMs ?? 5 * SECOND),
        });
        await response.arrayBuffer();
        status = response.status;
      } catch {
        status = 0;
      }
      attempts.push(status);
      if (status >= 200 && status < 300) return { event: full, attempts, delivered: true };
    }
    return { event: full, attempts, delivered: false };
  }

  paginateForever(resource: string, on = true): void {
    if (on) this.paginator.endless.add(resource);
    else this.paginator.endless.delete(resource);
  }

  close(): Promise<void> {
    this.closed ??= new Promise<void>((resolve) => {
      this.closing = true;
      this.server.close(() => resolve());
      this.server.closeAllConnections(); // idle keep-alive sockets and held requests alike
      this.gate.openAll();
      this.timers.wakeAll();
    });
    return this.closed;
  }

  // ----- request pipeline ----------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = parseTarget(req.url ?? '/');
    const entry: RequestLogEntry = {
      method: req.method ?? 'GET',
      path: target.path,
      query: Object.fromEntries(target.query),
      status: 0,
      at: epochNow(),
    };
    this.stats.requests.push(entry);
    this.trackConcurrency(res);
    const isApi = target.path.startsWith('/developer/');
    const accessToken = isApi ? bearerToken(req) : undefined;
    if (accessToken !== undefined) entry.userId = this.oauth.ownerOf(accessToken);
    const arrived = performance.now();

    const slowdown = takeFirst(this.slowdowns, () => true) ?? 0;
    // Under a plain fixed latency the answer is prepared on arrival and sent once the latency has passed:
    // the fake's own work (filtering, serializing a page) then happens within the latency, as a real
    // server's does, instead of being added to it (on one thread, it queued concurrent requests behind
    // each other). Held and slowed requests are answered as things stand when they are let through.
    const early = isApi && this.latencyMs > 0 && slowdown === 0 && !this.gate.holding
      ? this.prepareApi(req, target, entry)
      : undefined;
    // setTimeout counts from the event loop's cached clock, which can be a little behind: never answer early.
    const due = arrived + this.latencyMs + slowdown;
    for (let left = due - performance.now(); left > 0 && !this.closing; left = due - performance.now()) {
      await this.timers.sleep(Math.ceil(left));
    }
    if (isApi) await this.gate.wait();
    if (this.closing) {
      res.destroy();
      return;
    }

    const { reply, malformed } =
      early ??
      (isApi
        ? this.prepareApi(req, target, entry)
        : { reply: await this.answerOAuth(req, target, entry), malformed: undefined });
    if (malformed) writeMalformed(res, entry, reply, malformed);
    else writeReply(res, entry, reply);
  }

  /** The answer to an API request, its body already serialized unless it is to be sent malformed. */
  private prepareApi(
    req: IncomingMessage,
    target: Target,
    entry: RequestLogEntry,
  ): { reply: Reply; malformed: MalformKind | undefined } {
    const reply = this.answerApi(req, target, entry);
    const malformed =
      reply.status === 200
        ? takeFirst(this.malformations, (m) => faultMatches(m, entry, true))?.kind
        : undefined;
    return { reply: malformed ? reply : serialized(reply), malformed };
  }

  private trackConcurrency(res: ServerResponse): void {
    this.inFlight++;
    this.stats.maxConcurrentRequests = Math.max(this.stats.maxConcurrentRequests, this.inFlight);
    res.once('close', () => this.inFlight--);
  }

  private answerCrash(res: ServerResponse): void {
    // A bug in the fake must surface as a 500, not as an unhandled rejection that kills the test run.
    if (res.headersSent) res.destroy();
    else if (!res.destroyed) res.writeHead(500, { 'content-type': 'text/plain' }).end('fake WHOOP internal error');
  }

  /** Rate limit, then injected failures, then routing and authentication. */
  private answerApi(req: IncomingMessage, target: Target, entry: RequestLogEntry): Reply {
    const verdict = this.window.take(Date.now(), this.enforceRateLimit);
    if (!verdict.allowed) {
      this.stats.rateLimited++;
      return jsonReply(429, { error: 'Too Many Requests' }, rateLimitHeaders(this.window.limit, 0, verdict.resetSeconds));
    }
    this.stats.peakPerMinute = Math.max(this.stats.peakPerMinute, verdict.inWindow);
    const limitHeaders = rateLimitHeaders(this.window.limit, verdict.remaining, verdict.resetSeconds);
    const reply = this.injectedFailure(entry, true) ?? this.route(req, target);
    return { ...reply, headers: { ...limitHeaders, ...reply.headers } };
  }

  private injectedFailure(request: FaultRequest, isApi: boolean): Reply | undefined {
    const fault = takeFirst(this.failures, (f) => faultMatches(f, request, isApi));
    if (!fault) return undefined;
    const defaults = fault.status === 429 ? rateLimitHeaders(this.window.limit, 0, 1) : {};
    return jsonReply(fault.status, { error: 'injected fault', status: fault.status }, { ...defaults, ...fault.headers });
  }

  private route(req: IncomingMessage, target: Target): Reply {
    const apiPath = target.path.slice('/developer'.length);
    for (const route of this.routes) {
      const match = route.method === req.method ? route.pattern.exec(apiPath) : null;
      if (!match) continue;
      const accessToken = bearerToken(req);
      const userId = accessToken === undefined ? undefined : this.oauth.userFor(accessToken, Date.now());
      if (userId === undefined || accessToken === undefined) {
        return jsonReply(401, { error: 'Unauthorized' }, { 'WWW-Authenticate': 'Bearer error="invalid_token"' });
      }
      return route.handler(userId, match.slice(1), target.query, accessToken);
    }
    return notFound();
  }

  private apiRoutes(): ApiRoute[] {
    const get = (pattern: RegExp, handler: ApiHandler): ApiRoute => ({ method: 'GET', pattern, handler });
    const now = () => Date.now();
    return [
      get(/^\/v2\/cycle$/, (user, _, query) => this.paginator.list(this.cycleSource(), user, query, now())),
      get(/^\/v2\/cycle\/(\d+)$/, (user, [id]) => found(this.userCycles(user).find((c) => c.id === Number(id)))),
      get(/^\/v2\/cycle\/(\d+)\/sleep$/, (user, [id]) =>
        found(this.data.sleeps.find((s) => s.user_id === user && s.cycle_id === Number(id) && !s.nap)),
      ),
      get(/^\/v2\/cycle\/(\d+)\/recovery$/, (user, [id]) =>
        found(this.data.recoveries.find((r) => r.user_id === user && r.cycle_id === Number(id))),
      ),
      get(/^\/v2\/recovery$/, (user, _, query) => this.paginator.list(this.recoverySource(), user, query, now())),
      get(/^\/v2\/activity\/sleep$/, (user, _, query) => this.paginator.list(this.sleepSource(), user, query, now())),
      get(new RegExp(`^/v2/activity/sleep/${UUID}$`), (user, [id]) =>
        found(this.data.sleeps.find((s) => s.user_id === user && s.id === id)),
      ),
      get(/^\/v2\/activity\/workout$/, (user, _, query) => this.paginator.list(this.workoutSource(), user, query, now())),
      get(new RegExp(`^/v2/activity/workout/${UUID}$`), (user, [id]) =>
        found(this.data.workouts.find((w) => w.user_id === user && w.id === id)),
      ),
      get(/^\/v2\/user\/profile\/basic$/, (user) => {
        const member = this.requireMember(user);
        return jsonReply(200, {
          user_id: member.user_id,
          email: member.email,
          first_name: member.first_name,
          last_name: member.last_name,
        });
      }),
      get(/^\/v2\/user\/measurement\/body$/, (user) => jsonReply(200, { ...this.requireMember(user).body })),
      {
        method: 'DELETE',
        pattern: /^\/v2\/user\/access$/,
        handler: (_user, _params, _query, accessToken) => {
          this.oauth.revokeGrantOf(accessToken);
          return { status: 204 };
        },
      },
    ];
  }

  private userCycles(userId: number): Cycle[] {
    return this.data.cycles.filter((cycle) => cycle.user_id === userId);
  }

  private cycleSource(): ListSource<Cycle> {
    return { resource: 'cycle', records: this.data.cycles, key: (c) => ({ startMs: Date.parse(c.start), id: c.id }) };
  }

  private sleepSource(): ListSource<Sleep> {
    return { resource: 'sleep', records: this.data.sleeps, key: (s) => ({ startMs: Date.parse(s.start), id: s.id }) };
  }

  private workoutSource(): ListSource<Workout> {
    return { resource: 'workout', records: this.data.workouts, key: (w) => ({ startMs: Date.parse(w.start), id: w.id }) };
  }

  /** Recoveries have no time of their own: they are ordered and filtered by the start of their sleep. */
  private recoverySource(): ListSource<Recovery> {
    const sleepStarts = new Map(this.data.sleeps.map((sleep) => [sleep.id, Date.parse(sleep.start)]));
    return {
      resource: 'recovery',
      records: this.data.recoveries,
      key: (r) => {
        const startMs = sleepStarts.get(r.sleep_id);
        return startMs === undefined ? undefined : { startMs, id: r.cycle_id };
      },
    };
  }

  // ----- OAuth endpoints -----------------------------------------------------------------------------

  private async answerOAuth(req: IncomingMessage, target: Target, entry: RequestLogEntry): Promise<Reply> {
    const injected = this.injectedFailure(entry, false);
    if (injected) return injected;
    if (target.path === '/oauth/oauth2/auth' && req.method === 'GET') return this.authorize(req, target.query);
    if (target.path === '/oauth/oauth2/token' && req.method === 'POST') return this.token(req);
    return notFound();
  }

  /** What WHOOP's consent page does once the logged-in member clicks "allow". */
  private authorize(req: IncomingMessage, query: URLSearchParams): Reply {
    const refuse = (why: string): Reply => ({ status: 400, text: `authorization refused: ${why}` });
    if (query.get('client_id') !== this.clientId) return refuse('unknown client_id');
    const redirectUri = query.get('redirect_uri');
    if (!redirectUri || !URL.canParse(redirectUri)) return refuse('redirect_uri is missing or not an absolute URL');
    if (query.get('response_type') !== 'code') return refuse('response_type must be code');
    const state = query.get('state');
    if (!state || state.length < 8) return refuse('state must be at least 8 characters');
    const scopes = parseScopes(query.get('scope'));
    const unknown = scopes.filter((scope) => !(WHOOP_SCOPES as readonly string[]).includes(scope));
    if (unknown.length > 0) return refuse(`unknown scope ${unknown.join(' ')}`);
    const approver = this.approvingMember(req);
    if (!approver) return refuse('no WHOOP member is logged in to approve');

    const code = randomToken(24);
    this.oauth.codes.set(code, {
      userId: approver.user_id,
      scopes,
      redirectUri,
      expiresAt: Date.now() + CODE_LIFETIME_MS,
    });
    const location = new URL(redirectUri);
    location.searchParams.set('code', code);
    location.searchParams.set('state', state);
    return { status: 302, text: '', headers: { Location: location.toString() } };
  }

  /** approve() names the member; a plain browser GET is treated as the first member's session. */
  private approvingMember(req: IncomingMessage): Member | undefined {
    const header = req.headers[APPROVER_HEADER];
    if (typeof header === 'string') return this.findMember(Number(header));
    return this.members[0];
  }

  private async token(req: IncomingMessage): Promise<Reply> {
    if (!isFormEncoded(req)) {
      return oauthError(400, 'invalid_request', 'Content-Type must be application/x-www-form-urlencoded');
    }
    const raw = await readBody(req, MAX_FORM_BYTES);
    if (raw === undefined) return oauthError(400, 'invalid_request', 'incomplete body');
    if (raw === 'too-large') return oauthError(413, 'invalid_request', 'body too large');
    const form = new URLSearchParams(raw);
    if (form.get('client_id') !== this.clientId || form.get('client_secret') !== this.clientSecret) {
      return oauthError(401, 'invalid_client', 'client authentication failed');
    }
    switch (form.get('grant_type')) {
      case 'authorization_code':
        return this.exchangeCode(form);
      case 'refresh_token':
        return this.refresh(form);
      default:
        return oauthError(400, 'unsupported_grant_type', 'grant_type must be authorization_code or refresh_token');
    }
  }

  private exchangeCode(form: URLSearchParams): Reply {
    const code = form.get('code') ?? '';
    const pending = this.oauth.codes.get(code);
    this.oauth.codes.delete(code); // single use, even when the exchange below fails
    if (!pending || Date.now() > pending.expiresAt) return this.invalidGrant('authorization code is invalid, expired or used');
    if (form.get('redirect_uri') !== pending.redirectUri) return this.invalidGrant('redirect_uri does not match the authorization request');
    this.stats.codeExchanges++;
    return jsonReply(200, this.oauth.createGrant(pending.userId, pending.scopes), { 'Cache-Control': 'no-store' });
  }

  private refresh(form: URLSearchParams): Reply {
    const refreshToken = form.get('refresh_token');
    if (!refreshToken) return oauthError(400, 'invalid_request', 'refresh_token is required');
    const tokens = this.oauth.refresh(refreshToken, parseScopes(form.get('scope')));
    if (!tokens) return this.invalidGrant('refresh token is invalid, revoked or already used');
    this.stats.refreshes++;
    return jsonReply(200, tokens, { 'Cache-Control': 'no-store' });
  }

  private invalidGrant(description: string): Reply {
    this.stats.invalidGrants++;
    return oauthError(400, 'invalid_grant', description);
  }

  // ----- helpers -------------------------------------------------------------------------------------

  private findMember(userId: number): Member | undefined {
    return this.members.find((member) => member.user_id === userId);
  }

  private requireMember(userId: number): Member {
    const member = this.findMember(userId);
    if (!member) throw new Error(`fake WHOOP has no member ${userId}; call addMember() first`);
    return member;
  }
}

function emptyStats(): FakeWhoopStats {
  return {
    requests: [],
    refreshes: 0,
    codeExchanges: 0,
    invalidGrants: 0,
    maxConcurrentRequests: 0,
    rateLimited: 0,
    peakPerMinute: 0,
  };
}

function bearerToken(req: IncomingMessage): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  return match?.[1];
}

function found(record: object | undefined): Reply {
  return record ? jsonReply(200, record) : notFound();
}

function notFound(): Reply {
  return jsonReply(404, { error: 'Not Found' });
}

/** The reply with a JSON body turned into text, so that serializing can happen before it is sent. */
function serialized(reply: Reply): Reply {
  if (reply.json === undefined) return reply;
  return { status: reply.status, text: JSON.stringify(reply.json), headers: { ...reply.headers, 'Content-Type': 'application/json; charset=utf-8' } };
}

function writeReply(res: ServerResponse, entry: RequestLogEntry, reply: Reply): void {
  if (res.destroyed || res.headersSent) return;
  entry.status = reply.status;
  entry.answeredAt = epochNow();
  const { status, text: body = '', headers: given } = serialized(reply);
  const headers: Record<string, string> = { ...given };
  if (body) headers['Content-Type'] ??= 'text/plain; charset=utf-8';
  if (status !== 204) headers['Content-Length'] = String(Buffer.byteLength(body));
  res.writeHead(status, headers);
  res.end(status === 204 ? undefined : body);
}

/** Bad bodies behind a 200, as broken proxies and half-finished deploys produce them. */
function writeMalformed(res: ServerResponse, entry: RequestLogEntry, reply: Reply, kind: MalformKind): void {
  if (res.destroyed || res.headersSent) return;
  entry.status = 200;
  entry.answeredAt = epochNow();
  const headers = { ...reply.headers, 'Content-Type': 'application/json; charset=utf-8' };
  if (kind === 'truncated') {
    // Promise the whole body, send half of it, then cut the connection.
    const full = JSON.stringify(reply.json ?? {});
    const partial = full.slice(0, Math.max(1, Math.floor(full.length / 2)));
    res.writeHead(200, { ...headers, 'Content-Length': String(Buffer.byteLength(full)) });
    res.write(partial, () => res.destroy());
    return;
  }
  const body = kind === 'invalid-json' ? '{"records": [' : '{"records": "nope"}';
  res.writeHead(200, { ...headers, 'Content-Length': String(Buffer.byteLength(body)) });
  res.end(body);
}
