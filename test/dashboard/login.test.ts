// The dashboard's sign-in over real HTTP: the cookie's attributes, wrong passwords, the rate limit, CSRF
// refusals, expired and forged cookies, bad input, and every endpoint without a session or when disabled.
import secureSession from '@fastify/secure-session';
import Fastify from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { startApp, testConfig } from '../support/app.js';
import { startEnvironment, type Environment } from '../support/environment.js';
import { sessionKey } from '../../src/dashboard/session.js';

const PASSWORD = 'a long dashboard password 0123';
const DAY_MS = 86_400_000;

let env: Environment;
let userId: string;
// Behind a proxy (TRUST_PROXY), each test signs in from an address of its own, so the sign-in rate limit
// of one test does not spend another's attempts.
let client = 0;
const clientAddress = () => `198.51.100.${client}`;

const dataEndpoints = () => [
  '/dashboard/api/overview',
  `/dashboard/api/members/${userId}/charts`,
  `/dashboard/api/members/${userId}/charts?range=365`,
];

interface Visitor {
  cookie: string;
  csrf: string;
}

function sessionCookie(response: Response): string | undefined {
  const header = response.headers.getSetCookie().find((line) => line.startsWith('whoop_sync_session='));
  return header?.split(';')[0];
}

/** Loads the form as a browser does: a session cookie holding the CSRF secret, and the form's token. */
async function openForm(base = env.app.url): Promise<Visitor> {
  const response = await fetch(`${base}/login`);
  expect(response.status).toBe(200);
  const html = await response.text();
  const csrf = /name="_csrf" value="([^"]+)"/.exec(html)![1]!;
  return { cookie: sessionCookie(response)!, csrf };
}

function post(
  path: string,
  visitor: Partial<Visitor>,
  fields: Record<string, string>,
  base = env.app.url,
): Promise<Response> {
  return fetch(`${base}${path}`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': clientAddress(), ...(visitor.cookie ? { cookie: visitor.cookie } : {}) },
    body: new URLSearchParams(fields).toString(),
  });
}

async function signIn(base = env.app.url): Promise<string> {
  const form = await openForm(base);
  const response = await post('/login', form, { _csrf: form.csrf, password: PASSWORD }, base);
  expect(response.status).toBe(303);
  expect(response.headers.get('location')).toBe('/dashboard');
  return sessionCookie(response)!;
}

const get = (path: string, cookie?: string) => fetch(`${env.app.url}${path}`, { redirect: 'manual', headers: cookie ? { cookie } : {} });

/** A cookie encrypted under `key` as @fastify/secure-session encrypts it, with the session given. */
async function cookieUnder(key: Buffer, session: Record<string, unknown>): Promise<string> {
  const issuer = Fastify();
  await issuer.register(secureSession, { key, cookieName: 'whoop_sync_session' });
  await issuer.ready();
  try {
    return `whoop_sync_session=${encodeURIComponent(issuer.encodeSecureSession(issuer.createSecureSession(session)))}`;
  } finally {
    await issuer.close();
  }
}

/** A cookie as the service would have issued it (its key is derived from the password). */
const issuedCookie = (session: Record<string, unknown>) => cookieUnder(sessionKey(PASSWORD, undefined), session);

beforeAll(async () => {
  env = await startEnvironment({ days: 40, env: { DASHBOARD_PASSWORD: PASSWORD, TRUST_PROXY: 'true' } });
  expect((await env.connect()).status).toBe(200);
  await env.app.app.sync.syncAll({ days: 45, trigger: 'cli', requestedBy: 'test' });
  userId = String(env.member.user_id);
}, 120_000);

afterAll(async () => env?.close());
beforeEach(() => {
  client += 1;
});

describe('dashboard sign-in', () => {
  it('signs in with the password: an encrypted, HttpOnly, SameSite=Lax cookie that expires', async () => {
    const form = await openForm();
    const response = await post('/login', form, { _csrf: form.csrf, password: PASSWORD });
    expect(response.status).toBe(303);
    const header = response.headers.getSetCookie().find((line) => line.startsWith('whoop_sync_session='))!;
    expect(header).toMatch(/; HttpOnly/);
    expect(header).toMatch(/; SameSite=Lax/);
    expect(header).toMatch(/; Max-Age=604800/);
    expect(header).not.toMatch(/; Secure/);
    // Encrypted: nothing of the session is readable in the cookie.
    expect(decodeURIComponent(header)).not.toMatch(/sid|_csrf/);
    const overview = await get('/dashboard/api/overview', sessionCookie(response));
    expect(overview.status).toBe(200);
    const body = (await overview.json()) as { accounts: unknown[]; recentRuns: unknown[]; digests: unknown[] };
    expect(body.accounts).toEqual([expect.objectContaining({ userId, name: 'Jo Tester', status: 'active' })]);
    expect(body.recentRuns[0]).toMatchObject({ trigger: 'cli', status: 'succeeded' });
    expect(body.digests).toEqual([]);
    const charts = await get(`/dashboard/api/members/${userId}/charts?range=90`, sessionCookie(response));
    expect(charts.status).toBe(200);
    const { charts: specs } = (await charts.json()) as { charts: { recovery: { data: { values: unknown[] } } } };
    expect(specs.recovery.data.values.length).toBeGreaterThan(30);
  });

  it('refuses a wrong password and grants nothing', async () => {
    const form = await openForm();
    const response = await post('/login', form, { _csrf: form.csrf, password: `${PASSWORD}x` });
    expect(response.status).toBe(401);
    expect(await response.text()).toContain('Wrong password');
    for (const cookie of [form.cookie, sessionCookie(response)]) expect((await get('/dashboard/api/overview', cookie)).status).toBe(401);
  });

  it('refuses sign-in and sign-out without a valid CSRF token', async () => {
    const form = await openForm();
    expect((await post('/login', form, { password: PASSWORD })).status).toBe(403);
    expect((await post('/login', form, { _csrf: 'forged', password: PASSWORD })).status).toBe(403);
    // A token from another visitor's form does not fit this session.
    const other = await openForm();
    expect((await post('/login', form, { _csrf: other.csrf, password: PASSWORD })).status).toBe(403);
    expect((await post('/login', {}, { _csrf: form.csrf, password: PASSWORD })).status).toBe(403);

    const cookie = await signIn();
    const logout = await post('/logout', { cookie }, {});
    expect(logout.status).toBe(403);
    expect((await get('/dashboard/api/overview', cookie)).status).toBe(200);
  });

  it('signs out: the cookie from before stops working at once, on every replica', async () => {
    const cookie = await signIn();
    const other = await env.startAnotherApp();
    const page = await get('/dashboard', cookie);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())![1]!;
    // The page's token comes with a session holding its secret, as a browser keeps it.
    const logout = await post('/logout', { cookie: sessionCookie(page) ?? cookie }, { _csrf: csrf });
    expect(logout.status).toBe(303);
    expect(logout.headers.get('location')).toBe('/login');
    const cleared = sessionCookie(logout)!;
    expect(cleared).toBe('whoop_sync_session=');
    expect((await get('/dashboard', cleared)).status).toBe(302);
    // A copy of the old cookie (kept by the browser, or stolen) is refused too: the session is gone server-side.
    for (const old of [cookie, sessionCookie(page) ?? cookie]) {
      expect((await get('/dashboard/api/overview', old)).status).toBe(401);
      expect((await fetch(`${other.url}/dashboard/api/overview`, { headers: { cookie: old } })).status).toBe(401);
      expect((await get('/dashboard', old)).status).toBe(302);
    }
  });

  it('refuses expired, forged and tampered cookies', async () => {
    const now = Date.now();
    // A session that expired server-side, one whose cookie is older than 7 days, and a made-up session id in a
    // correctly encrypted cookie.
    const lapsed = await signIn();
    const { prisma } = env.app.app.db;
    await prisma.dashboardSession.updateMany({
      where: { createdAt: { gte: new Date(now - 60_000) } },
      data: { expiresAt: new Date(now - 1000) },
    });
    const expired = [
      lapsed,
      await issuedCookie({ sid: 'A'.repeat(43), __ts: Math.round((now - 8 * DAY_MS) / 1000) }),
      await issuedCookie({ sid: 'A'.repeat(43) }),
      await issuedCookie({ signedInAt: now }),
    ];
    const valid = await signIn();
    const value = decodeURIComponent(valid.slice('whoop_sync_session='.length));
    const flipped = `${value[0] === 'A' ? 'B' : 'A'}${value.slice(1)}`;
    // The same session encrypted under another key (another password).
    const otherKey = await cookieUnder(sessionKey('another password', undefined), { signedInAt: now });
    const forged = [
      'whoop_sync_session=' + encodeURIComponent(`${Buffer.from('{"signedInAt":1}').toString('base64')};${Buffer.alloc(24).toString('base64')}`),
      `whoop_sync_session=${encodeURIComponent(flipped)}`,
      'whoop_sync_session=garbage',
      'whoop_sync_session=%E0%A4%A',
      otherKey,
    ];
    for (const cookie of [...expired, ...forged]) {
      const page = await get('/dashboard', cookie);
      expect(page.status, cookie).toBe(302);
      expect(page.headers.get('location')).toBe('/login');
      for (const path of dataEndpoints()) {
        const response = await get(path, cookie);
        expect(response.status, `${path} with ${cookie}`).toBe(401);
        expect(await response.text()).not.toMatch(/Jo Tester|recovery/i);
      }
    }
  });

  it('answers every data endpoint 401 and the page with a redirect without a session', async () => {
    const page = await get('/dashboard');
    expect(page.status).toBe(302);
    expect(page.headers.get('location')).toBe('/login');
    expect(await page.text()).toBe('');
    for (const path of dataEndpoints()) {
      const response = await get(path);
      expect(response.status, path).toBe(401);
      expect(await response.text()).not.toContain('Jo Tester');
    }
  });

  it('answers bad input with a 4xx', async () => {
    const cookie = await signIn();
    const cases: [string, number][] = [
      [`/dashboard/api/members/${userId}/charts?range=7`, 400],
      [`/dashboard/api/members/${userId}/charts?range=abc`, 400],
      ['/dashboard/api/members/abc/charts', 400],
      ['/dashboard/api/members/99999999999999999999/charts', 400],
      ['/dashboard/api/members/123/charts', 404],
      ['/dashboard/assets/../../package.json', 404],
      ['/dashboard/assets/vega.min.js.map', 404],
    ];
    for (const [path, status] of cases) expect((await get(path, cookie)).status, path).toBe(status);
    const form = await openForm();
    expect((await post('/login', form, { _csrf: form.csrf, password: 'x'.repeat(5000) })).status).toBe(413);
    expect((await post('/login', form, { _csrf: form.csrf })).status).toBe(400);
    const json = await fetch(`${env.app.url}/login`, { method: 'POST', headers: { 'content-type': 'application/json', cookie: form.cookie }, body: '{"password":' });
    expect(json.status).toBe(400);
    // The scripts the page needs are served from node_modules.
    for (const file of ['vega.min.js', 'vega-lite.min.js', 'vega-embed.min.js', 'dashboard.js']) {
      const asset = await get(`/dashboard/assets/${file}`);
      expect(asset.status, file).toBe(200);
      expect(asset.headers.get('content-type')).toMatch(/javascript/);
    }
  });

  it('accepts the same cookie on another replica configured alike', async () => {
    const cookie = await signIn();
    const other = await env.startAnotherApp();
    expect((await fetch(`${other.url}/dashboard/api/overview`, { headers: { cookie } })).status).toBe(200);
  });

  it('rate-limits sign-in attempts', async () => {
    const form = await openForm();
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 12; attempt++) {
      statuses.push((await post('/login', form, { _csrf: form.csrf, password: `guess ${attempt}` })).status);
    }
    expect(statuses.filter((status) => status === 429).length).toBeGreaterThan(0);
    // Even the right password waits once the limit is reached; another address is not held up.
    expect((await post('/login', form, { _csrf: form.csrf, password: PASSWORD })).status).toBe(429);
    client += 1;
    await signIn();
  });
});

// Apps of other configurations, each on a database of its own, with time for a slow start on a busy machine.
describe('other configurations', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => db?.drop());

  it('with PUBLIC_URL on https: marks the cookie Secure', async () => {
    const app = await startApp(testConfig(db, { ...env.env, DASHBOARD_PASSWORD: PASSWORD, PUBLIC_URL: 'https://whoop.example.com' }));
    try {
      const response = await fetch(`${app.url}/login`);
      expect(response.headers.getSetCookie().find((line) => line.startsWith('whoop_sync_session='))).toMatch(/; Secure/);
    } finally {
      await app.close();
    }
  }, 120_000);

  it('without DASHBOARD_PASSWORD: says how to enable it and how to connect without it, and answers 404 elsewhere', async () => {
    const app = await startApp(testConfig(db, { ...env.env, DASHBOARD_PASSWORD: '' }));
    try {
      const page = await fetch(`${app.url}/dashboard`);
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).toContain('DASHBOARD_PASSWORD');
      // Reconnect messages point here whether or not the dashboard is on.
      expect(html).toContain('<code>/whoop connect</code>');
      expect(html).toContain('<code>npm run connect</code>');
      expect(html).not.toContain('Jo Tester');
      for (const path of [...dataEndpoints(), '/login', '/dashboard/assets/dashboard.js']) {
        expect((await fetch(`${app.url}${path}`)).status, path).toBe(404);
      }
      expect((await fetch(`${app.url}/login`, { method: 'POST', body: 'password=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } })).status).toBe(404);
      expect((await fetch(`${app.url}/logout`, { method: 'POST' })).status).toBe(404);
    } finally {
      await app.close();
    }
  }, 120_000);
});
