import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, testConfig } from '../support/app.js';
import { createTestDatabase } from '../support/database.js';
import { startEnvironment, type Environment } from '../support/environment.js';

describe('connecting a WHOOP account (GET /oauth/whoop → callback)', () => {
  let env: Environment;
  beforeAll(async () => {
    env = await startEnvironment({ days: 3 });
  });
  afterAll(async () => env?.close());

  it('redirects to WHOOP with every read scope, offline, the callback URL and a fresh state', async () => {
    const response = await fetch(`${env.app.url}/oauth/whoop`, { redirect: 'manual' });
    expect(response.status).toBe(302);
    const location = new URL(response.headers.get('location')!);
    expect(`${location.origin}${location.pathname}`).toBe(`${env.whoop.url}/oauth/oauth2/auth`);
    expect(location.searchParams.get('client_id')).toBe(env.whoop.clientId);
    expect(location.searchParams.get('response_type')).toBe('code');
    expect(location.searchParams.get('redirect_uri')).toBe(`${env.config.publicUrl}/oauth/whoop/callback`);
    expect(location.searchParams.get('scope')!.split(' ').sort()).toEqual(
      ['offline', 'read:body_measurement', 'read:cycles', 'read:profile', 'read:recovery', 'read:sleep', 'read:workout'],
    );
    const state = location.searchParams.get('state')!;
    expect(state.length).toBeGreaterThanOrEqual(8);
    const again = await fetch(`${env.app.url}/oauth/whoop`, { redirect: 'manual' });
    expect(new URL(again.headers.get('location')!).searchParams.get('state')).not.toBe(state);
  });

  it('stores the grant and the profile and says who is connected', async () => {
    const response = await env.connect();
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    expect(await response.text()).toContain('Connected as Jo Tester');
    const { prisma } = env.app.app.db;
    const user = await prisma.whoopUser.findUniqueOrThrow({
      where: { userId: BigInt(env.member.user_id) },
      include: { token: true },
    });
    expect(user.email).toBe('jo@example.com');
    expect(user.heightMeter).toBe(env.member.body.height_meter);
    expect(user.token?.status).toBe('active');
    expect(user.token?.refreshToken).toBeTruthy();
    expect(user.token!.expiresAt.getTime()).toBeGreaterThan(Date.now() + 50 * 60_000);
    expect(env.whoop.stats.codeExchanges).toBe(1);
  });

  it('refuses a reused state and exchanges nothing', async () => {
    const start = await fetch(`${env.app.url}/oauth/whoop`, { redirect: 'manual' });
    const callback = new URL(await env.whoop.approve(start.headers.get('location')!, env.member.user_id));
    const first = await fetch(`${env.app.url}${callback.pathname}${callback.search}`);
    expect(first.status).toBe(200);
    const exchanges = env.whoop.stats.codeExchanges;
    const replay = await fetch(`${env.app.url}${callback.pathname}${callback.search}`);
    expect(replay.status).toBe(400);
    expect(await replay.text()).toContain('This connection link is invalid or has expired');
    expect(env.whoop.stats.codeExchanges).toBe(exchanges);
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

    const start = await fetch(`${env.app.url}/oauth/whoop`, { redirect: 'manual' });
    const callback = new URL(await env.whoop.approve(start.headers.get('location')!, env.member.user_id));
    await env.app.app.db.prisma.oAuthState.updateMany({ data: { expiresAt: new Date(Date.now() - 1000) } });
    const expired = await fetch(`${env.app.url}${callback.pathname}${callback.search}`);
    expect(expired.status).toBe(400);
    // Only the authorize call made by approve() reached WHOOP: no code exchange.
    expect(env.whoop.stats.requests.slice(before).filter((r) => r.path.includes('/token'))).toEqual([]);
  });

  it('shows what WHOOP said when the person declines', async () => {
    const start = await fetch(`${env.app.url}/oauth/whoop`, { redirect: 'manual' });
    const state = new URL(start.headers.get('location')!).searchParams.get('state')!;
    const response = await fetch(`${env.app.url}/oauth/whoop/callback?error=access_denied&error_description=${encodeURIComponent('The user <b>denied</b> access')}&state=${state}`);
    expect(response.status).toBe(400);
    const page = await response.text();
    expect(page).toContain('WHOOP did not authorize the connection');
    expect(page).toContain('The user &lt;b&gt;denied&lt;/b&gt; access');
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
