// A member's `/whoop dashboard` link in Chromium: the button signs them in, the page draws their charts and no one
// else's, a second use of the link is refused, B creates and revokes their own MCP token, and signing out ends the
// session (a copy of the cookie is refused).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Member } from '../fakes/whoop-server.js';
import { launchBrowser, type Browser } from '../support/browser.js';
import { startEnvironment, type Environment } from '../support/environment.js';

const BOB = 'U0BOB00001';

let env: Environment;
let browser: Browser;
let bob: Member;

async function dashboardLink(user: string): Promise<string> {
  const answer = (await (await env.command('dashboard', { command: '/whoop', user_id: user })).json()) as { text: string };
  return /<(http[^|>]+)\|/.exec(answer.text)![1]!.replace(env.config.publicUrl, env.app.url);
}

beforeAll(async () => {
  browser = await launchBrowser({ viewport: { width: 1280, height: 900 } });
  env = await startEnvironment({ days: 20, env: { DASHBOARD_PASSWORD: 'a long dashboard password 0123', MCP_TOKEN: 'mcp-token-for-tests-0123456789abcdef-0123' } });
  bob = env.whoop.addMember({ first_name: 'Bo', last_name: 'Private' });
  env.whoop.generate(bob.user_id, { days: 20 });
  expect((await env.connect()).status).toBe(200);
  expect((await env.connect(bob, BOB)).status).toBe(200);
  await env.app.app.sync.syncAll({ days: 20, trigger: 'cli', requestedBy: 'test' });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await env?.close();
});

describe("a member's dashboard in Chromium", () => {
  it("signs B in with the link's button and shows B's data only; the link works once; signing out ends it", async () => {
    const link = await dashboardLink(BOB);
    const page = await browser.context.newPage();
    await page.goto(link);
    await Promise.all([page.waitForURL(`${env.app.url}/dashboard`), page.click('#open-dashboard')]);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
    const members = page.locator('section.member');
    expect(await members.count()).toBe(1);
    expect(await members.first().getAttribute('data-user-id')).toBe(String(bob.user_id));
    const text = await page.locator('body').innerText();
    expect(text).toContain('Bo Private');
    expect(text).not.toContain('Jo Tester');
    expect(text).toContain('This is your own dashboard');
    expect(await page.locator('#connect-form').count()).toBe(0);
    expect(await page.locator('svg').count()).toBeGreaterThan(0);
    const cookies = await browser.context.cookies(env.app.url);

    // The same link in another browser profile: refused.
    const other = await launchBrowser();
    try {
      const second = await other.context.newPage();
      await second.goto(link);
      const response = await Promise.all([second.waitForNavigation(), second.click('#open-dashboard')]);
      expect(response[0]?.status()).toBe(400);
      expect(await second.locator('body').innerText()).toContain('This link is invalid or has expired');
    } finally {
      await other.close();
    }

    // B's own MCP token: shown once after the button, accepted by /mcp, refused once revoked.
    await Promise.all([page.waitForURL(`${env.app.url}/dashboard/mcp-token`), page.click('#create-mcp-token')]);
    const token = await page.locator('#mcp-token-value').innerText();
    expect(token).toMatch(/^wsm_/);
    const listTools = () =>
      fetch(`${env.app.url}/mcp`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      });
    expect((await listTools()).status).toBe(200);
    await page.goto(`${env.app.url}/dashboard`);
    await Promise.all([page.waitForURL(`${env.app.url}/dashboard`), page.click('#revoke-mcp-token')]);
    expect(await page.locator('#mcp-token').innerText()).toContain('You have no token');
    expect((await listTools()).status).toBe(401);

    await Promise.all([page.waitForURL(`${env.app.url}/login`), page.click('#sign-out')]);
    // A copy of the cookie from before signing out opens nothing.
    const copied = cookies.map((cookie) => `${cookie.name}=${cookie.value}`).join('; ');
    expect((await fetch(`${env.app.url}/dashboard/api/overview`, { headers: { cookie: copied } })).status).toBe(401);
    await page.close();
  });
});
