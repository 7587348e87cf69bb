// The page at `/` over the real HTTP stack: configuration state and the URLs to paste, no secrets and no
// personal data, HEAD, hostile query strings; and the "next step" line the service logs at start-up.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nextStep, setupChecklist } from '../../src/http/setup-checklist.js';
import { testConfig } from '../support/app.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { SIGNING_SECRET, startEnvironment, type Environment } from '../support/environment.js';
import { startServerProcess } from '../support/server-process.js';

const PUBLIC_URL = 'https://whoop.example.org';

/** The state badge of the row with this label. */
function badgeOf(page: string, label: string): string | undefined {
  const row = new RegExp(`<span class="label">${label}</span><span class="badge [a-z]+">([^<]+)</span>`).exec(page);
  return row?.[1];
}

describe('GET / with Slack and WHOOP configured', () => {
  let env: Environment;
  beforeAll(async () => {
    env = await startEnvironment({ days: 3, env: { PUBLIC_URL } });
  });
  afterAll(async () => env?.close());

  it('shows what is configured, the URLs to paste and a Connect WHOOP button', async () => {
    const response = await fetch(`${env.app.url}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('content-security-policy')).toMatch(/^default-src 'none'; style-src 'sha256-/);
    const page = await response.text();
    expect(page).toContain(`<code class="url">${PUBLIC_URL}/slack/commands</code>`);
    expect(page).toContain(`<code class="url">${PUBLIC_URL}/oauth/whoop/callback</code>`);
    expect(page).toContain(`<code class="url">${PUBLIC_URL}/webhooks/whoop</code>`);
    expect(page).toContain('Off (SLACK_APP_TOKEN unset)');
    expect(page).toContain('Off: set DASHBOARD_PASSWORD');
    expect(page).not.toContain(`${PUBLIC_URL}/dashboard`);
    expect(page).toContain('<a class="button" href="/dashboard">Connect WHOOP</a>');
    expect(badgeOf(page, 'Signing secret')).toBe('OK');
    expect(badgeOf(page, 'Bot token')).toBe('OK');
    expect(badgeOf(page, 'App credentials')).toBe('OK');
    expect(badgeOf(page, 'Connected accounts')).toBe('Missing');
    expect(page).toContain(`<p class="next"><strong>Next step:</strong> connect a WHOOP account: /whoop connect in Slack or npm run connect.</p>`);
    expect(page).not.toContain('<script');
  });

  it('counts connected accounts and those needing re-authorization, and names nobody', async () => {
    expect((await env.connect()).status).toBe(200);
    let page = await (await fetch(`${env.app.url}/`)).text();
    expect(badgeOf(page, 'Connected accounts')).toBe('OK');
    expect(page).toContain('1 connected, none needs re-authorization.');
    expect(page).toContain('<p class="next done">Nothing is missing.</p>');

    await env.app.app.whoop.tokens.markReauthorizationRequired(BigInt(env.member.user_id), 'refresh token revoked');
    page = await (await fetch(`${env.app.url}/`)).text();
    expect(badgeOf(page, 'Connected accounts')).toBe('Needs attention');
    expect(page).toContain('1 connected, 1 of them must be connected again');

    const { whoop, slack } = env;
    for (const secret of [SIGNING_SECRET, slack.botToken, whoop.clientSecret, whoop.clientId]) {
      expect(page).not.toContain(secret);
    }
    for (const personal of ['Jo', 'Tester', 'jo@example.com', String(env.member.user_id), 'refresh token revoked']) {
      expect(page).not.toContain(personal);
    }
  });

  it('answers HEAD with the headers and no body', async () => {
    const response = await fetch(`${env.app.url}/`, { method: 'HEAD' });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await response.text()).toBe('');
  });

  it('ignores hostile query strings: nothing of them comes back, and nothing fails', async () => {
    const queries = [
      '?<script>alert(1)</script>',
      '?q=%3Cscript%3Ealert(1)%3C/script%3E',
      '?__proto__[polluted]=1&constructor[prototype][polluted]=1',
      '?a=%00%ff%fe&b=%E0%A4%A',
      `?${'x'.repeat(8000)}=1`,
      '?' + Array.from({ length: 2000 }, (_, i) => `k${i}=v`).join('&'),
    ];
    for (const query of queries) {
      const response = await fetch(`${env.app.url}/${query}`);
      expect(response.status, query.slice(0, 40)).toBe(200);
      const page = await response.text();
      expect(page).not.toContain('alert(1)');
      expect(page).not.toContain('polluted');
      expect(page).not.toContain('xxxxxxxx');
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // Far over Node's header limit: refused with a 4xx before any route runs.
    const huge = await fetch(`${env.app.url}/?${'y'.repeat(70_000)}`);
    expect(huge.status).toBeGreaterThanOrEqual(400);
    expect(huge.status).toBeLessThan(500);
  });
});

describe('GET / with nothing configured', () => {
  let env: Environment;
  beforeAll(async () => {
    // Empty values count as unset, as in a Docker env file.
    const unset = { SLACK_SIGNING_SECRET: '', SLACK_BOT_TOKEN: '', WHOOP_CLIENT_ID: '', WHOOP_CLIENT_SECRET: '' };
    // A PUBLIC_URL that needs escaping in HTML proves every interpolated value is escaped.
    env = await startEnvironment({ days: 1, env: { ...unset, PUBLIC_URL: 'https://example.org/"><b>x</b>' } });
  });
  afterAll(async () => env?.close());

  it('marks each piece missing and escapes what it interpolates', async () => {
    const page = await (await fetch(`${env.app.url}/`)).text();
    expect(badgeOf(page, 'Signing secret')).toBe('Missing');
    expect(badgeOf(page, 'Bot token')).toBe('Missing');
    expect(badgeOf(page, 'App credentials')).toBe('Missing');
    expect(badgeOf(page, 'Connected accounts')).toBe('Missing');
    expect(page).toContain('https://example.org/&quot;&gt;&lt;b&gt;x&lt;/b&gt;/slack/commands');
    expect(page).not.toContain('<b>');
  });
});

describe('the next step', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => db?.drop());

  const everything = {
    SLACK_SIGNING_SECRET: 's',
    SLACK_BOT_TOKEN: 'xoxb-1',
    WHOOP_CLIENT_ID: 'id',
    WHOOP_CLIENT_SECRET: 'secret',
    PUBLIC_URL,
  };
  const step = (env: Record<string, string>, accounts = { connected: 1, reauthorizationRequired: 0 }) =>
    nextStep(setupChecklist(testConfig(db, { ...everything, ...env }), accounts));

  it('is the first missing piece, in the order of the page', () => {
    expect(step({ SLACK_SIGNING_SECRET: '', WHOOP_CLIENT_ID: '' })).toMatch(/npm run demo.*SLACK_APP_TOKEN and SLACK_BOT_TOKEN for Socket Mode.*SLACK_SIGNING_SECRET/);
    expect(step({ SLACK_BOT_TOKEN: '', WHOOP_CLIENT_ID: '' })).toMatch(/^set SLACK_BOT_TOKEN /);
    expect(step({ WHOOP_CLIENT_SECRET: '' }, { connected: 0, reauthorizationRequired: 0 })).toMatch(/^set WHOOP_CLIENT_ID and WHOOP_CLIENT_SECRET /);
    expect(step({}, { connected: 0, reauthorizationRequired: 0 })).toBe('connect a WHOOP account: /whoop connect in Slack or npm run connect');
    expect(step({ DASHBOARD_PASSWORD: 'a long dashboard password 0123' }, { connected: 0, reauthorizationRequired: 0 })).toBe(
      `connect a WHOOP account: /whoop connect in Slack, Connect on the dashboard at ${PUBLIC_URL}/dashboard or npm run connect`,
    );
    expect(step({}, { connected: 2, reauthorizationRequired: 1 })).toMatch(/^connect the 1 account\(s\) needing re-authorization again: \/whoop connect in Slack/);
    expect(step({ SLACK_SIGNING_SECRET: '', SLACK_APP_TOKEN: 'xapp-1-A0DEMO-1-abcdef' })).toBeUndefined();
    expect(step({})).toBeUndefined();
  });

  it('says a local or plain-http PUBLIC_URL cannot be Slack\'s Request URL, and points at PUBLIC_URL or Socket Mode', () => {
    const row = (env: Record<string, string>) =>
      setupChecklist(testConfig(db, { ...everything, ...env }), { connected: 1, reauthorizationRequired: 0 })
        .flatMap((section) => section.rows)
        .find((item) => item.label === 'Request URL of /sync')!;
    for (const local of ['', 'http://localhost:3000', 'https://127.0.0.1', 'https://192.168.1.20:3000', 'https://nas.local', 'https://[::1]', 'http://whoop.example.org']) {
      const request = row({ PUBLIC_URL: local });
      expect(request.state, local).toBe('attention');
      expect(request.detail, local).toMatch(/^Slack cannot reach this address.*PUBLIC_URL.*Socket Mode \(SLACK_APP_TOKEN\)/);
    }
    expect(row({})).toMatchObject({ detail: 'Paste into your Slack app: Slash Commands, /sync, Request URL.', url: `${PUBLIC_URL}/slack/commands` });
    expect(row({ PUBLIC_URL: 'https://[2001:db8::1]' }).state).toBeUndefined();
    expect(row({ PUBLIC_URL: '', SLACK_SIGNING_SECRET: '', SLACK_APP_TOKEN: 'xapp-1-A0DEMO-1-abcdef' })).toEqual({
      label: 'Request URL of /sync',
      detail: 'Not needed: commands arrive over Socket Mode.',
    });
  });

  it('names a refused Socket Mode token, and lists the dashboard once it is enabled', () => {
    const config = testConfig(db, { ...everything, SLACK_APP_TOKEN: 'xapp-1-A0DEMO-1-abcdef', DASHBOARD_PASSWORD: 'correct horse battery' });
    const accounts = { connected: 1, reauthorizationRequired: 0 };
    const refused = { enabled: true as const, state: 'refused' as const, since: new Date(), connections: 0, error: 'invalid_auth' };
    expect(nextStep(setupChecklist(config, accounts, refused))).toMatch(/^set SLACK_APP_TOKEN to a valid app-level token/);
    const connected = { ...refused, state: 'connected' as const, connections: 1 };
    const sections = setupChecklist(config, accounts, connected);
    expect(nextStep(sections)).toBeUndefined();
    const rows = sections.flatMap((section) => section.rows);
    expect(rows.find((row) => row.label === 'Socket Mode')?.state).toBe('ok');
    expect(rows.find((row) => row.label === 'Dashboard')?.link).toBe(`${PUBLIC_URL}/dashboard`);
  });

  it('is logged once at start-up by the service process', async () => {
    const server = startServerProcess({ ...db.env, SYNC_SCHEDULES: 'off', WHOOP_CLIENT_ID: 'id', WHOOP_CLIENT_SECRET: 'secret' });
    try {
      await server.listening();
      const deadline = Date.now() + 15_000;
      while (!server.output().includes('next step') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      const lines = server.output().split('\n').filter((line) => line.includes('next step'));
      expect(lines).toHaveLength(1);
      // A fresh start: the first line offers the demo and Socket Mode, which needs no public address.
      expect(lines[0]).toContain('"msg":"next step: to try it all with stand-ins for Slack and WHOOP, run npm run demo');
      expect(lines[0]).toContain('Socket Mode (no public address needed)');
    } finally {
      await server.stop();
    }
  });
});
