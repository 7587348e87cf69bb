// Tests of the fake WHOOP itself, over real HTTP. The service's tests trust this fake to behave like WHOOP,
// so its pagination, token rotation and faults are pinned down here.
import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startFakeWhoop, WHOOP_SCOPES, type Cycle, type FakeWhoop, type FakeWhoopOptions, type Recovery, type Sleep, type Workout } from './whoop-server.js';

const NOW = new Date('2025-06-15T15:00:00.000Z');
const REDIRECT_URI = 'http://localhost:3000/whoop/callback';

let fake: FakeWhoop | undefined;

afterEach(async () => {
  vi.useRealTimers();
  await fake?.close();
  fake = undefined;
});

async function start(options?: FakeWhoopOptions): Promise<FakeWhoop> {
  fake = await startFakeWhoop(options);
  return fake;
}

/** A fake with one member, `days` of history and a token for that member. */
async function startWithData(days = 30, options?: FakeWhoopOptions) {
  const whoop = await start(options);
  const member = whoop.addMember();
  whoop.generate(member.user_id, { days, now: NOW, seed: 7 });
  const grant = whoop.issueGrant(member.user_id);
  return { whoop, member, grant };
}

function api(
  whoop: FakeWhoop,
  path: string,
  token: string | undefined,
  query: Record<string, string> = {},
  init: RequestInit = {},
) {
  const search = new URLSearchParams(query).toString();
  const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
  return fetch(`${whoop.url}/developer${path}${search ? `?${search}` : ''}`, { ...init, headers });
}

function tokenRequest(whoop: FakeWhoop, fields: Record<string, string>) {
  return fetch(`${whoop.url}/oauth/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: whoop.clientId, client_secret: whoop.clientSecret, ...fields }).toString(),
  });
}

function refresh(whoop: FakeWhoop, refreshToken: string) {
  return tokenRequest(whoop, { grant_type: 'refresh_token', refresh_token: refreshToken, scope: 'offline' });
}

function authorizeUrl(whoop: FakeWhoop, overrides: Record<string, string> = {}) {
  const query = new URLSearchParams({
    client_id: whoop.clientId,
    redirect_uri: REDIRECT_URI,
    response_type: 'code',
    scope: WHOOP_SCOPES.join(' '),
    state: 'state-12345',
    ...overrides,
  });
  return `${whoop.url}/oauth/oauth2/auth?${query}`;
}

interface Page<T> {
  records: T[];
  next_token?: string | null;
}

/** Follows next_token to the end, the way a correct client does. */
async function readAll<T>(whoop: FakeWhoop, path: string, token: string, query: Record<string, string>) {
  const records: T[] = [];
  let pages = 0;
  let nextToken: string | null | undefined;
  do {
    const response = await api(whoop, path, token, nextToken ? { ...query, nextToken } : query);
    expect(response.status).toBe(200);
    const page = (await response.json()) as Page<T>;
    records.push(...page.records);
    nextToken = page.next_token;
    pages++;
  } while (nextToken);
  return { records, pages };
}

describe('generated data', () => {
  it('has one cycle, main sleep and recovery per day, the newest cycle in progress, nothing in the future', async () => {
    const { whoop, member } = await startWithData(30);
    const { cycles, sleeps, recoveries, workouts } = whoop.data;
    expect(cycles).toHaveLength(30);
    expect(recoveries).toHaveLength(30);
    expect(sleeps.filter((s) => !s.nap)).toHaveLength(30);
    expect(workouts.length).toBeGreaterThanOrEqual(29);

    const newest = cycles.reduce((a, b) => (a.start > b.start ? a : b));
    expect(newest).toMatchObject({ end: null, score_state: 'PENDING_SCORE' });
    expect(newest).not.toHaveProperty('score');
    for (const cycle of cycles.filter((c) => c !== newest)) {
      expect(cycle.score_state).toBe('SCORED');
      expect(Number.isInteger(cycle.score!.average_heart_rate)).toBe(true);
      expect(Number.isInteger(cycle.score!.max_heart_rate)).toBe(true);
      expect(cycle.end).not.toBeNull();
    }
    for (const cycle of cycles) {
      expect(cycle.user_id).toBe(member.user_id);
      expect(cycle.timezone_offset).toMatch(/^([+-]\d{2}:\d{2}|Z)$/);
      const main = sleeps.find((s) => s.cycle_id === cycle.id && !s.nap)!;
      expect(recoveries.find((r) => r.cycle_id === cycle.id)!.sleep_id).toBe(main.id);
    }
    for (const record of [...cycles, ...sleeps, ...workouts]) {
      expect(Date.parse(record.start)).toBeLessThan(NOW.getTime());
      if (record.end) expect(Date.parse(record.end)).toBeLessThanOrEqual(NOW.getTime());
      expect(Date.parse(record.updated_at)).toBeLessThanOrEqual(NOW.getTime());
    }
    for (const record of [...cycles, ...sleeps, ...recoveries, ...workouts]) {
      expect('score' in record).toBe(record.score_state === 'SCORED');
    }
    for (const sleep of sleeps.filter((s) => s.score)) {
      const summary = sleep.score!.stage_summary;
      expect(
        summary.total_awake_time_milli +
          summary.total_no_data_time_milli +
          summary.total_light_sleep_time_milli +
          summary.total_slow_wave_sleep_time_milli +
          summary.total_rem_sleep_time_milli,
      ).toBe(summary.total_in_bed_time_milli);
    }
  });

  it('is deterministic for a seed, and keeps ids unique across generate calls', async () => {
    const first = await startFakeWhoop();
    const second = await startFakeWhoop();
    try {
      for (const whoop of [first, second]) {
        const a = whoop.addMember();
        const b = whoop.addMember();
        whoop.generate(a.user_id, { days: 20, now: NOW, seed: 3, workoutsPerDay: 2 });
        whoop.generate(b.user_id, { days: 20, now: NOW, seed: 3, workoutsPerDay: 2 });
      }
      expect(first.data).toEqual(second.data);
      const ids = (records: Array<{ id: number | string }>) => new Set(records.map((r) => r.id)).size;
      expect(ids(first.data.cycles)).toBe(40);
      expect(ids(first.data.sleeps)).toBe(first.data.sleeps.length);
      expect(ids(first.data.workouts)).toBe(first.data.workouts.length);
      expect(first.members.map((m) => m.user_id)).toEqual([10129, 10130]);
    } finally {
      await first.close();
      await second.close();
    }
  });

  it('never schedules data after now, even early in the morning', async () => {
    const whoop = await start();
    const member = whoop.addMember();
    const early = new Date('2025-06-15T06:00:00.000Z');
    whoop.generate(member.user_id, { days: 5, now: early, workoutsPerDay: 3 });
    for (const record of [...whoop.data.sleeps, ...whoop.data.workouts]) {
      expect(Date.parse(record.end)).toBeLessThanOrEqual(early.getTime());
    }
  });
});

describe('list endpoints', () => {
  it('pages newest first through every record exactly once', async () => {
    const { whoop, grant } = await startWithData(60);
    const window = { start: '2025-01-01T00:00:00Z', end: NOW.toISOString(), limit: '25' };
    const { records, pages } = await readAll<Cycle>(whoop, '/v2/cycle', grant.access_token, window);
    expect(pages).toBe(3);
    expect(records).toHaveLength(60);
    expect(new Set(records.map((c) => c.id)).size).toBe(60);
    const starts = records.map((c) => c.start);
    expect(starts).toEqual([...starts].sort().reverse());
  });

  it('defaults to 10 records and omits next_token on the last page', async () => {
    const { whoop, grant } = await startWithData(12);
    const first = (await (await api(whoop, '/v2/cycle', grant.access_token)).json()) as Page<Cycle>;
    expect(first.records).toHaveLength(10);
    expect(first.next_token).toEqual(expect.any(String));
    const second = (await (await api(whoop, '/v2/cycle', grant.access_token, { nextToken: first.next_token! })).json()) as Page<Cycle>;
    expect(second.records).toHaveLength(2);
    expect(second.next_token ?? null).toBeNull();
  });

  it('treats start as inclusive and end as exclusive', async () => {
    const { whoop, grant } = await startWithData(10);
    const [, target] = [...whoop.data.workouts].sort((a, b) => a.start.localeCompare(b.start));
    const included = (await (await api(whoop, '/v2/activity/workout', grant.access_token, { start: target!.start })).json()) as Page<Workout>;
    expect(included.records.map((w) => w.id)).toContain(target!.id);
    const excluded = (await (await api(whoop, '/v2/activity/workout', grant.access_token, { end: target!.start, limit: '25' })).json()) as Page<Workout>;
    expect(excluded.records.map((w) => w.id)).not.toContain(target!.id);
    expect(excluded.records.every((w) => w.start < target!.start)).toBe(true);
  });

  it('rejects limit above 25, non-integer limits and invalid times', async () => {
    const { whoop, grant } = await startWithData(3);
    expect((await api(whoop, '/v2/cycle', grant.access_token, { limit: '26' })).status).toBe(400);
    expect((await api(whoop, '/v2/cycle', grant.access_token, { limit: '2.5' })).status).toBe(400);
    expect((await api(whoop, '/v2/cycle', grant.access_token, { limit: '0' })).status).toBe(400);
    expect((await api(whoop, '/v2/cycle', grant.access_token, { limit: '25' })).status).toBe(200);
    expect((await api(whoop, '/v2/cycle', grant.access_token, { start: 'yesterday' })).status).toBe(400);
    expect((await api(whoop, '/v2/cycle', grant.access_token, { end: '2025-06-15' })).status).toBe(400);
  });

  it('binds nextToken to the start/end it was issued for', async () => {
    const { whoop, grant } = await startWithData(30);
    const window = { start: '2025-05-01T00:00:00Z', end: '2025-06-10T00:00:00Z', limit: '5' };
    const first = (await (await api(whoop, '/v2/activity/sleep', grant.access_token, window)).json()) as Page<Sleep>;
    const nextToken = first.next_token!;
    const sameWindow = await api(whoop, '/v2/activity/sleep', grant.access_token, { ...window, nextToken });
    expect(sameWindow.status).toBe(200);
    const otherEnd = await api(whoop, '/v2/activity/sleep', grant.access_token, { ...window, end: '2025-06-11T00:00:00Z', nextToken });
    expect(otherEnd.status).toBe(400);
    const noStart = await api(whoop, '/v2/activity/sleep', grant.access_token, { end: window.end, limit: '5', nextToken });
    expect(noStart.status).toBe(400);
    const otherResource = await api(whoop, '/v2/activity/workout', grant.access_token, { ...window, nextToken });
    expect(otherResource.status).toBe(400);
    expect((await api(whoop, '/v2/activity/sleep', grant.access_token, { ...window, nextToken: 'forged' })).status).toBe(400);
  });

  it('orders and filters recoveries by the start of their sleep', async () => {
    const { whoop, grant } = await startWithData(10);
    const sleepStart = new Map(whoop.data.sleeps.map((s) => [s.id, s.start]));
    const { records } = await readAll<Recovery>(whoop, '/v2/recovery', grant.access_token, { limit: '25' });
    expect(records).toHaveLength(10);
    const starts = records.map((r) => sleepStart.get(r.sleep_id)!);
    expect(starts).toEqual([...starts].sort().reverse());
    const cut = starts[3]!;
    const after = (await (await api(whoop, '/v2/recovery', grant.access_token, { start: cut, limit: '25' })).json()) as Page<Recovery>;
    expect(after.records).toHaveLength(4);
  });

  it('serves only the token owner data, and test edits to the data immediately', async () => {
    const { whoop, member, grant } = await startWithData(5);
    const other = whoop.addMember({ email: 'other@example.com' });
    whoop.generate(other.user_id, { days: 5, now: NOW, seed: 8 });
    const { records } = await readAll<Cycle>(whoop, '/v2/cycle', grant.access_token, { limit: '25' });
    expect(records).toHaveLength(5);
    expect(records.every((c) => c.user_id === member.user_id)).toBe(true);
    const othersCycle = whoop.data.cycles.find((c) => c.user_id === other.user_id)!;
    expect((await api(whoop, `/v2/cycle/${othersCycle.id}`, grant.access_token)).status).toBe(404);

    whoop.data.cycles.splice(whoop.data.cycles.findIndex((c) => c.id === records[0]!.id), 1);
    const after = await readAll<Cycle>(whoop, '/v2/cycle', grant.access_token, { limit: '25' });
    expect(after.records).toHaveLength(4);
  });
});

describe('single-record and user endpoints', () => {
  it('answers each documented path and 404 for others', async () => {
    const { whoop, member, grant } = await startWithData(3);
    const token = grant.access_token;
    const cycle = whoop.data.cycles[0]!;
    const sleep = whoop.data.sleeps.find((s) => s.cycle_id === cycle.id && !s.nap)!;
    const workout = whoop.data.workouts[0]!;
    expect(await (await api(whoop, `/v2/cycle/${cycle.id}`, token)).json()).toEqual(cycle);
    expect(await (await api(whoop, `/v2/cycle/${cycle.id}/sleep`, token)).json()).toEqual(sleep);
    expect(await (await api(whoop, `/v2/cycle/${cycle.id}/recovery`, token)).json()).toMatchObject({ cycle_id: cycle.id, sleep_id: sleep.id });
    expect(await (await api(whoop, `/v2/activity/sleep/${sleep.id}`, token)).json()).toEqual(sleep);
    expect(await (await api(whoop, `/v2/activity/workout/${workout.id}`, token)).json()).toEqual(workout);
    expect(await (await api(whoop, '/v2/user/profile/basic', token)).json()).toEqual({
      user_id: member.user_id,
      email: member.email,
      first_name: member.first_name,
      last_name: member.last_name,
    });
    expect(await (await api(whoop, '/v2/user/measurement/body', token)).json()).toEqual(member.body);

    expect((await api(whoop, '/v2/recovery/123', token)).status).toBe(404);
    expect((await api(whoop, '/v1/cycle', token)).status).toBe(404);
    expect((await api(whoop, '/v2/cycle/999999999', token)).status).toBe(404);
    expect((await api(whoop, '/v2/activity/sleep/00000000-0000-4000-8000-000000000000', token)).status).toBe(404);
  });

  it('requires a valid bearer token', async () => {
    const { whoop } = await startWithData(1);
    expect((await api(whoop, '/v2/cycle', undefined)).status).toBe(401);
    expect((await api(whoop, '/v2/cycle', 'not-a-token')).status).toBe(401);
  });

  it('DELETE /v2/user/access answers 204 and kills the grant', async () => {
    const { whoop, grant } = await startWithData(1);
    expect((await api(whoop, '/v2/user/access', grant.access_token, {}, { method: 'DELETE' })).status).toBe(204);
    expect((await api(whoop, '/v2/cycle', grant.access_token)).status).toBe(401);
    expect((await refresh(whoop, grant.refresh_token)).status).toBe(400);
  });
});

describe('OAuth', () => {
  it('runs the authorization-code flow through approve(), with single-use codes', async () => {
    const whoop = await start();
    whoop.addMember();
    const second = whoop.addMember();
    const location = new URL(await whoop.approve(authorizeUrl(whoop), second.user_id));
    expect(`${location.origin}${location.pathname}`).toBe(REDIRECT_URI);
    expect(location.searchParams.get('state')).toBe('state-12345');
    const code = location.searchParams.get('code')!;

    const exchange = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI };
    const response = await tokenRequest(whoop, exchange);
    expect(response.status).toBe(200);
    const tokens = (await response.json()) as Record<string, unknown>;
    expect(tokens).toEqual({
      access_token: expect.any(String),
      refresh_token: expect.any(String),
      expires_in: 3600,
      scope: WHOOP_SCOPES.join(' '),
      token_type: 'bearer',
    });
    const profile = await api(whoop, '/v2/user/profile/basic', tokens.access_token as string);
    expect(((await profile.json()) as { user_id: number }).user_id).toBe(second.user_id);
    expect(whoop.stats.codeExchanges).toBe(1);

    const reused = await tokenRequest(whoop, exchange);
    expect(reused.status).toBe(400);
    expect(await reused.json()).toMatchObject({ error: 'invalid_grant' });
  });

  it('checks redirect_uri at the exchange and issues no refresh token without offline', async () => {
    const whoop = await start({ accessTokenLifetimeSeconds: 120 });
    const member = whoop.addMember();
    const mismatched = new URL(await whoop.approve(authorizeUrl(whoop), member.user_id)).searchParams.get('code')!;
    const wrongRedirect = await tokenRequest(whoop, { grant_type: 'authorization_code', code: mismatched, redirect_uri: 'http://evil.example/cb' });
    expect(wrongRedirect.status).toBe(400);

    const online = new URL(await whoop.approve(authorizeUrl(whoop, { scope: 'read:cycles read:profile' }), member.user_id));
    const response = await tokenRequest(whoop, { grant_type: 'authorization_code', code: online.searchParams.get('code')!, redirect_uri: REDIRECT_URI });
    const tokens = (await response.json()) as Record<string, unknown>;
    expect(tokens.expires_in).toBe(120);
    expect(tokens).not.toHaveProperty('refresh_token');
  });

  it('rejects bad authorization requests with 400', async () => {
    const whoop = await start();
    const member = whoop.addMember();
    const refusals: Array<Record<string, string>> = [{ client_id: 'someone-else' }, { state: 'short' }, { response_type: 'token' }, { redirect_uri: '' }];
    for (const bad of refusals) {
      const response = await fetch(authorizeUrl(whoop, bad), { redirect: 'manual' });
      expect(response.status, JSON.stringify(bad)).toBe(400);
      await expect(whoop.approve(authorizeUrl(whoop, bad), member.user_id)).rejects.toThrow(/400/);
    }
    // A plain browser GET approves as the first member.
    const plain = await fetch(authorizeUrl(whoop), { redirect: 'manual' });
    expect(plain.status).toBe(302);
  });

  it('rotates refresh tokens: each is single-use and invalidates the previous access token', async () => {
    const { whoop, grant } = await startWithData(1);
    const first = await refresh(whoop, grant.refresh_token);
    expect(first.status).toBe(200);
    const rotated = (await first.json()) as { access_token: string; refresh_token: string };
    expect(rotated.refresh_token).not.toBe(grant.refresh_token);

    const replay = await refresh(whoop, grant.refresh_token);
    expect(replay.status).toBe(400);
    expect(await replay.json()).toMatchObject({ error: 'invalid_grant', error_description: expect.any(String) });
    expect(whoop.stats).toMatchObject({ refreshes: 1, invalidGrants: 1 });

    expect((await api(whoop, '/v2/cycle', grant.access_token)).status).toBe(401);
    expect((await api(whoop, '/v2/cycle', rotated.access_token)).status).toBe(200);
    expect((await refresh(whoop, rotated.refresh_token)).status).toBe(200);
  });

  it('checks client credentials and the form content type', async () => {
    const { whoop, grant } = await startWithData(1);
    const wrongSecret = await tokenRequest(whoop, { grant_type: 'refresh_token', refresh_token: grant.refresh_token, client_secret: 'nope' });
    expect(wrongSecret.status).toBe(401);
    expect(await wrongSecret.json()).toMatchObject({ error: 'invalid_client' });
    const asJson = await fetch(`${whoop.url}/oauth/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'refresh_token', refresh_token: grant.refresh_token, client_id: whoop.clientId, client_secret: whoop.clientSecret }),
    });
    expect(asJson.status).toBe(400);
    // Neither failure consumed the refresh token.
    expect((await refresh(whoop, grant.refresh_token)).status).toBe(200);
  });

  it('expireAccessTokens() makes every access token 401 while refresh keeps working', async () => {
    const { whoop, grant } = await startWithData(1);
    whoop.expireAccessTokens();
    expect((await api(whoop, '/v2/cycle', grant.access_token)).status).toBe(401);
    const refreshed = (await (await refresh(whoop, grant.refresh_token)).json()) as { access_token: string };
    expect((await api(whoop, '/v2/cycle', refreshed.access_token)).status).toBe(200);
  });

  it('access tokens really expire after expires_in', async () => {
    const { whoop, grant } = await startWithData(1, { accessTokenLifetimeSeconds: 60 });
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 61_000);
    expect((await api(whoop, '/v2/cycle', grant.access_token)).status).toBe(401);
  });

  it('revokeGrants() makes every outstanding refresh token invalid_grant', async () => {
    const { whoop, grant } = await startWithData(1);
    whoop.revokeGrants();
    const response = await refresh(whoop, grant.refresh_token);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_grant' });
    expect(whoop.stats.invalidGrants).toBe(1);
  });

  it("revokeMember() ends one member's grant (401, invalid_grant) and logs whose token each request carried", async () => {
    const { whoop, member, grant } = await startWithData(1);
    const other = whoop.addMember();
    const kept = whoop.issueGrant(other.user_id);
    whoop.revokeMember(member.user_id);
    expect((await api(whoop, '/v2/cycle', grant.access_token)).status).toBe(401);
    expect(await (await refresh(whoop, grant.refresh_token)).json()).toMatchObject({ error: 'invalid_grant' });
    expect((await api(whoop, '/v2/cycle', kept.access_token)).status).toBe(200);
    expect((await refresh(whoop, kept.refresh_token)).status).toBe(200);
    const users = whoop.stats.requests.map((r) => r.userId);
    expect(users).toEqual([member.user_id, undefined, other.user_id, undefined]);
  });
});

describe('rate limit and faults', () => {
  it('failNext(429) answers with the rate-limit headers, then recovers', async () => {
    const { whoop, grant } = await startWithData(1);
    whoop.failNext(2, { status: 429 });
    for (let i = 0; i < 2; i++) {
      const response = await api(whoop, '/v2/cycle', grant.access_token);
      expect(response.status).toBe(429);
      expect(response.headers.get('x-ratelimit-limit')).toBe('100, 100;window=60, 10000;window=86400');
      expect(response.headers.get('x-ratelimit-remaining')).toBe('0');
      expect(response.headers.get('x-ratelimit-reset')).toBe('1');
    }
    const ok = await api(whoop, '/v2/cycle', grant.access_token);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('x-ratelimit-remaining')).toMatch(/^\d+$/);
  });

  it('failNext with a path prefix only hits matching requests, and takes extra headers', async () => {
    const { whoop, grant } = await startWithData(1);
    whoop.failNext(1, { status: 503, pathPrefix: '/v2/activity/sleep', headers: { 'Retry-After': '2' } });
    expect((await api(whoop, '/v2/cycle', grant.access_token)).status).toBe(200);
    const failed = await api(whoop, '/v2/activity/sleep', grant.access_token);
    expect(failed.status).toBe(503);
    expect(failed.headers.get('retry-after')).toBe('2');
    expect((await api(whoop, '/v2/activity/sleep', grant.access_token)).status).toBe(200);

    whoop.failNext(1, { status: 500, pathPrefix: '/oauth/oauth2/token' });
    expect((await refresh(whoop, grant.refresh_token)).status).toBe(500);
    expect((await refresh(whoop, grant.refresh_token)).status).toBe(200);
  });

  it('enforces a sliding 60 s window', async () => {
    const { whoop, grant } = await startWithData(1, { rateLimit: { perMinute: 3 } });
    vi.useFakeTimers({ toFake: ['Date'] });
    const t0 = Date.now();
    for (let i = 0; i < 3; i++) {
      const response = await api(whoop, '/v2/cycle', grant.access_token);
      expect(response.status).toBe(200);
      expect(response.headers.get('x-ratelimit-remaining')).toBe(String(2 - i));
      vi.setSystemTime(Date.now() + 10_000); // requests at t0, t0+10 s, t0+20 s
    }
    const limited = await api(whoop, '/v2/cycle', grant.access_token); // at t0+30 s
    expect(limited.status).toBe(429);
    expect(limited.headers.get('x-ratelimit-limit')).toBe('3, 3;window=60, 10000;window=86400');
    expect(limited.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(limited.headers.get('x-ratelimit-reset')).toBe('30');
    expect(whoop.stats.rateLimited).toBe(1);

    vi.setSystemTime(t0 + 60_001); // the first slot has freed, the other two have not
    expect((await api(whoop, '/v2/cycle', grant.access_token)).status).toBe(200);
    expect((await api(whoop, '/v2/cycle', grant.access_token)).status).toBe(429);
    // The OAuth endpoints are not rate limited.
    expect((await refresh(whoop, grant.refresh_token)).status).toBe(200);
  });

  it('hold() blocks API requests until released, but not OAuth', async () => {
    const { whoop, grant } = await startWithData(1);
    const release = whoop.hold();
    let settled = false;
    const pending = api(whoop, '/v2/cycle', grant.access_token).then((response) => {
      settled = true;
      return response;
    });
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(settled).toBe(false);
    expect(whoop.stats.requests.at(-1)).toMatchObject({ path: '/developer/v2/cycle', status: 0 });
    expect((await refresh(whoop, grant.refresh_token)).status).toBe(200);
    release();
    const response = await pending;
    expect(settled).toBe(true);
    // The held request used the token from before the refresh, which the refresh invalidated.
    expect(response.status).toBe(401);
  });

  it('malformNext produces invalid JSON, truncated bodies and wrong shapes', async () => {
    const { whoop, grant } = await startWithData(5);
    whoop.malformNext(1, 'invalid-json');
    const invalid = await api(whoop, '/v2/cycle', grant.access_token);
    expect(invalid.status).toBe(200);
    await expect(invalid.json()).rejects.toThrow();

    whoop.malformNext(1, 'truncated', '/v2/cycle');
    const truncated = await api(whoop, '/v2/cycle', grant.access_token);
    await expect(truncated.text()).rejects.toThrow();

    whoop.malformNext(1, 'wrong-shape');
    expect(await (await api(whoop, '/v2/cycle', grant.access_token)).json()).toEqual({ records: 'nope' });
    expect(((await (await api(whoop, '/v2/cycle', grant.access_token)).json()) as Page<Cycle>).records).toHaveLength(5);
  });

  it("faults with `when` hit only the requests it holds for, e.g. one page's", async () => {
    const { whoop, grant } = await startWithData(5);
    const first = (await (await api(whoop, '/v2/cycle', grant.access_token, { limit: '2' })).json()) as Page<Cycle>;
    const secondPage = { limit: '2', nextToken: first.next_token! };
    const paged = (r: { query: Record<string, string> }) => r.query.nextToken === secondPage.nextToken;
    whoop.failNext(1, { status: 502, pathPrefix: '/v2/cycle', when: paged });
    whoop.malformNext(1, 'wrong-shape', '/v2/cycle', paged);
    expect((await api(whoop, '/v2/cycle', grant.access_token, { limit: '2' })).status).toBe(200);
    expect((await api(whoop, '/v2/cycle', grant.access_token, secondPage)).status).toBe(502);
    expect(await (await api(whoop, '/v2/cycle', grant.access_token, secondPage)).json()).toEqual({ records: 'nope' });
    expect(((await (await api(whoop, '/v2/cycle', grant.access_token, secondPage)).json()) as Page<Cycle>).records).toHaveLength(2);
  });

  // Latencies are long enough that the five requests overlap even on a loaded machine.
  it('applies latency, slowNext and tracks concurrency', async () => {
    const { whoop, grant } = await startWithData(1, { latencyMs: 500 });
    whoop.resetStats();
    const started = Date.now();
    const responses = await Promise.all(Array.from({ length: 5 }, () => api(whoop, '/v2/cycle', grant.access_token)));
    expect(responses.every((r) => r.status === 200)).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(495);
    expect(whoop.stats.maxConcurrentRequests).toBe(5);
    expect(whoop.stats.requests).toHaveLength(5);
    // Never early: the latency is a floor for every answer (the page is prepared while it runs).
    for (const request of whoop.stats.requests) expect(request.answeredAt! - request.at).toBeGreaterThanOrEqual(500);

    whoop.setLatency(0);
    whoop.slowNext(1, 1000);
    const slowStart = Date.now();
    await api(whoop, '/v2/cycle', grant.access_token);
    expect(Date.now() - slowStart).toBeGreaterThanOrEqual(990);
    const fastStart = Date.now();
    await api(whoop, '/v2/cycle', grant.access_token);
    expect(Date.now() - fastStart).toBeLessThan(900);
  });
});

describe('robustness', () => {
  it('survives hostile input', async () => {
    const { whoop, grant } = await startWithData(1);
    const port = Number(new URL(whoop.url).port);
    const garbage = await new Promise<string>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.write('\x00\x01 NONSENSE\r\n\r\n'));
      let answer = '';
      socket.on('data', (chunk) => (answer += chunk.toString()));
      socket.on('close', () => resolve(answer));
      socket.on('error', () => resolve(answer));
    });
    expect(garbage).toMatch(/^HTTP\/1\.1 400/);

    expect((await fetch(`${whoop.url}/developer/v2/cycle/%E0%A4%A`, { headers: { authorization: `Bearer ${grant.access_token}` } })).status).toBe(404);
    expect((await api(whoop, '/v2/cycle', grant.access_token, { limit: '%%%', start: '\u0000' })).status).toBe(400);
    const huge = await tokenRequest(whoop, { grant_type: 'refresh_token', refresh_token: 'x'.repeat(100_000) });
    expect(huge.status).toBe(413);
    expect((await fetch(`${whoop.url}/oauth/oauth2/token`, { method: 'POST' })).status).toBe(400);
    expect((await api(whoop, '/v2/cycle', grant.access_token)).status).toBe(200);
  });

  it('close() ends promptly with held and idle connections', async () => {
    const { whoop, grant } = await startWithData(1);
    await api(whoop, '/v2/cycle', grant.access_token); // leaves an idle keep-alive connection
    whoop.hold();
    const held = api(whoop, '/v2/cycle', grant.access_token).catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = Date.now();
    await whoop.close();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await held).toBeInstanceOf(Error);
  });
});
