import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, testConfig } from '../support/app.js';
import { createTestDatabase } from '../support/database.js';
import { ALICE, finishConnect, sendCommand, startEnvironment, startPersonalConnect, type Environment } from '../support/environment.js';

describe('connecting a WHOOP account (personal link → WHOOP → callback)', () => {
  let env: Environment;
  beforeAll(async () => {
    env = await startEnvironment({ days: 3 });
  });
  afterAll(async () => env?.close());

  const stateRows = () => env.app.app.db.prisma.oAuthState.count();

  it('redirects to WHOOP with every read scope, offline, the callback URL and a fresh state', async () => {
    const { location: started, cookie } = await startPersonalConnect(env.app.url);
    expect(cookie).toMatch(/^whoop_sync_connect=[\w-]{43}$/);
    const location = new URL(started);
    expect(`${location.origin}${location.pathname}`).toBe(`${env.whoop.url}/oauth/oauth2/auth`);
    expect(location.searchParams.get('client_id')).toBe(env.whoop.clientId);
    expect(location.searchParams.get('response_type')).toBe('code');
    expect(location.searchParams.get('redirect_uri')).toBe(`${env.config.publicUrl}/oauth/whoop/callback`);
    expect(location.searchParams.get('scope')!.split(' ').sort()).toEqual(
      ['offline', 'read:body_measurement', 'read:cycles', 'read:profile', 'read:recovery', 'read:sleep', 'read:workout'],
    );
    const state = location.searchParams.get('state')!;
    expect(state.length).toBeGreaterThanOrEqual(8);
    const again = await startPersonalConnect(env.app.url);
    expect(new URL(again.location).searchParams.get('state')).not.toBe(state);
  });

  it('starts nothing without a personal link or the operator: GET /oauth/whoop alone, a forged or a spent ticket', async () => {
    const before = await stateRows();
    const bare = await fetch(`${env.app.url}/oauth/whoop`, { redirect: 'manual' });
    expect(bare.status).toBe(403);
    expect(bare.headers.get('location')).toBeNull();
    expect(await bare.text()).toContain('/whoop connect');
    const forged = await fetch(`${env.app.url}/oauth/whoop`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `ticket=${'A'.repeat(43)}`,
      redirect: 'manual',
    });
    expect(forged.status).toBe(400);
    const malformed = await fetch(`${env.app.url}/oauth/whoop`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'ticket=<x>', redirect: 'manual' });
    expect(malformed.status).toBe(400);
    const json = await fetch(`${env.app.url}/oauth/whoop`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}', redirect: 'manual' });
    expect(json.status).toBeGreaterThanOrEqual(400);
    expect(json.status).toBeLessThan(500);

    // A personal link works once: opening it shows a button (a link preview spends nothing), the button starts.
    const answer = (await (await sendCommand(env.app.url, 'connect', { command: '/whoop' })).json()) as { text: string };
    const ticket = new URL(/<(http[^|>]+)\|/.exec(answer.text)![1]!).searchParams.get('ticket')!;
    expect((await fetch(`${env.app.url}/oauth/whoop?ticket=${ticket}`)).status).toBe(200);
    expect((await fetch(`${env.app.url}/oauth/whoop?ticket=${ticket}`)).status).toBe(200);
    expect(await stateRows()).toBe(before);
    const press = () =>
      fetch(`${env.app.url}/oauth/whoop`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `ticket=${ticket}`, redirect: 'manual' });
    expect((await press()).status).toBe(303);
    expect((await press()).status).toBe(400);
    expect(await stateRows()).toBe(before + 1);
  });

  it('stores the grant and the profile, links the Slack user and says who is connected', async () => {
    const response = await env.connect();
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    expect(await response.text()).toContain('Connected as Jo Tester');
    const { prisma } = env.app.app.db;
    const user = await prisma.whoopUser.findUniqueOrThrow({
      where: { userId: BigInt(env.member.user_id) },
      include: { token: true, member: true },
    });
    expect(user.email).toBe('jo@example.com');
    expect(user.heightMeter).toBe(env.member.body.height_meter);
    expect(user.token?.status).toBe('active');
    expect(user.token?.refreshToken).toBeTruthy();
    expect(user.token!.expiresAt.getTime()).toBeGreaterThan(Date.now() + 50 * 60_000);
    expect(user.member).toMatchObject({ slackUserId: ALICE, shares: true, digest: true });
    expect(env.whoop.stats.codeExchanges).toBe(1);
  });

  it('refuses a state replayed from another browser, and a reused state, and exchanges nothing', async () => {
    const started = await startPersonalConnect(env.app.url);
    const callback = new URL(await env.whoop.approve(started.location, env.member.user_id));
    const exchanges = env.whoop.stats.codeExchanges;
    // The same callback URL in a browser without the cookie (or with another browser's cookie) completes nothing.
    const other = await startPersonalConnect(env.app.url);
    for (const headers of [{}, { cookie: other.cookie }] as Record<string, string>[]) {
      const elsewhere = await fetch(`${env.app.url}${callback.pathname}${callback.search}`, { headers });
      expect(elsewhere.status).toBe(400);
      expect(await elsewhere.text()).toContain('This connection link is invalid or has expired');
    }
    expect(env.whoop.stats.codeExchanges).toBe(exchanges);
    // The attempts spent nothing: the browser that started the flow still finishes it.
    const own = await fetch(`${env.app.url}${callback.pathname}${callback.search}`, { headers: { cookie: started.cookie } });
    expect(own.status).toBe(200);

    const fresh = await startPersonalConnect(env.app.url);
    const first = await finishConnect(env.app.url, env.whoop, env.member, fresh);
    expect(first.status).toBe(200);
    const after = env.whoop.stats.codeExchanges;
    const url = new URL(first.url);
    const replay = await fetch(`${env.app.url}${url.pathname}${url.search}`, { headers: { cookie: fresh.cookie } });
    expect(replay.status).toBe(400);
    expect(env.whoop.stats.codeExchanges).toBe(after);
  });

  it('refuses a forged or expired state, and malformed callbacks, without calling WHOOP', async () => {
    const before = env.whoop.stats.requests.length;
    const forged = await fetch(`${env.app.url}/oauth/whoop/callback?code=abc&state=forged-state-123`);
    expect(forged.status).toBe(400);
    const missing = await fetch(`${env.app.url}/oauth/whoop/callback?code=abc`);
    expect(missing.status).toBe(400);
    const huge = await fetch(`${env.app.url}/oauth/whoop/callback?code=${'x'.repeat(5000)}&state=y`);
    expect(huge.status).toBe(400);
    const doubled = await fetch(`${env.app.url}/oauth/whoop/callback?state=a&state=b&code=c`);
    expect(doubled.status).toBe(400);
    const injected = await fetch(`${env.app.url}/oauth/whoop/callback?state=${encodeURIComponent('<script>')}&code=1`);
    expect(injected.status).toBe(400);
    expect(await injected.text()).not.toContain('<script>');

    const started = await startPersonalConnect(env.app.url);
    const callback = new URL(await env.whoop.approve(started.location, env.member.user_id));
    await env.app.app.db.prisma.oAuthState.updateMany({ data: { expiresAt: new Date(Date.now() - 1000) } });
    const expired = await fetch(`${env.app.url}${callback.pathname}${callback.search}`, { headers: { cookie: started.cookie } });
    expect(expired.status).toBe(400);
    // Only the authorize calls made by approve() reached WHOOP: no code exchange.
    expect(env.whoop.stats.requests.slice(before).filter((r) => r.path.includes('/token'))).toEqual([]);
  });

  it('shows what WHOOP said when the person declines', async () => {
    const started = await startPersonalConnect(env.app.url);
    const state = new URL(started.location).searchParams.get('state')!;
    const response = await fetch(
      `${env.app.url}/oauth/whoop/callback?error=access_denied&error_description=${encodeURIComponent('The user <b>denied</b> access')}&state=${state}`,
      { headers: { cookie: started.cookie } },
    );
    expect(response.status).toBe(400);
    const page = await response.text();
    expect(page).toContain('WHOOP did not authorize the connection');
    expect(page).toContain('The user &lt;b&gt;denied&lt;/b&gt; access');
  });

  it('escapes a link WHOOP (or anyone with a fresh state) puts in error_description', async () => {
    const started = await startPersonalConnect(env.app.url);
    const state = new URL(started.location).searchParams.get('state')!;
    const payload = '<a href="https://evil.example/login">Click here to reconnect your WHOOP</a>';
    const response = await fetch(
      `${env.app.url}/oauth/whoop/callback?state=${state}&error=access_denied&error_description=${encodeURIComponent(payload)}`,
      { headers: { cookie: started.cookie } },
    );
    expect(response.status).toBe(400);
    const page = await response.text();
    expect(page).not.toContain('<a href="https://evil.example');
    expect(page).toContain('&lt;a href=&quot;https://evil.example/login&quot;&gt;Click here to reconnect your WHOOP&lt;/a&gt;');
    // The page says how to start again, and carries no link at all.
    expect(page).toContain('Ask for a new link with /whoop connect in Slack');
    expect(page).not.toContain('<a ');
  });

  it('explains that WHOOP is not configured when the client credentials are missing', async () => {
    const db = await createTestDatabase();
    const app = await startApp(testConfig(db, { WHOOP_API_URL: env.whoop.url }));
    try {
      const response = await fetch(`${app.url}/oauth/whoop`, { redirect: 'manual' });
      expect(response.status).toBe(503);
      expect(await response.text()).toContain('Set WHOOP_CLIENT_ID and WHOOP_CLIENT_SECRET');
    } finally {
      await app.close();
      await db.drop();
    }
  });
});
