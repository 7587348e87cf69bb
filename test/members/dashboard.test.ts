// Each member's own dashboard: `/whoop dashboard` gives a single-use sign-in link that shows only that member's
// data; the operator (DASHBOARD_PASSWORD) sees everyone, connects accounts, links them to Slack users and revokes
// a member, which ends the member's sessions at once; changing the password ends every session; /status names no
// one without a token.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Member } from '../fakes/whoop-server.js';
import { csrfOf, dashboardClient, sessionCookie } from '../support/dashboard-client.js';
import { ALICE, startEnvironment, type Environment } from '../support/environment.js';

const PASSWORD = 'a long dashboard password 0123';
const BOB = 'U0BOB00001';

let env: Environment;
let bob: Member;
let alice: string;
let bobId: string;
let client: ReturnType<typeof dashboardClient>;
const get = (path: string, cookie?: string, base?: string) => client.get(path, cookie, base);
const post = (path: string, cookie: string | undefined, fields: Record<string, string>) =>
  client.post(path, cookie, fields);
const dashboardLink = (user: string) => client.dashboardLink(user);
const useLink = (ticket: string) => client.useLink(ticket);
const operatorCookie = () => client.operatorCookie();

beforeAll(async () => {
  env = await startEnvironment({ days: 10, env: { DASHBOARD_PASSWORD: PASSWORD } });
  client = dashboardClient(env, PASSWORD);
  bob = env.whoop.addMember({ first_name: 'Bo', last_name: 'Private' });
  env.whoop.generate(bob.user_id, { days: 10 });
  expect((await env.connect()).status).toBe(200);
  expect((await env.connect(bob, BOB)).status).toBe(200);
  await env.app.app.sync.syncAll({ days: 10, trigger: 'cli', requestedBy: 'test' });
  alice = String(env.member.user_id);
  bobId = String(bob.user_id);
}, 120_000);
afterAll(async () => env?.close());

describe("a member's own dashboard", () => {
  it("B's sign-in link shows only B's data, and works once", async () => {
    const ticket = await dashboardLink(BOB);
    const { status, cookie } = await useLink(ticket);
    expect(status).toBe(303);
    const overview = (await (await get('/dashboard/api/overview', cookie)).json()) as { viewer: string; accounts: { userId: string; name: string }[] };
    expect(overview.viewer).toBe('member');
    expect(overview.accounts).toEqual([expect.objectContaining({ userId: bobId, name: 'Bo Private' })]);
    expect(JSON.stringify(overview)).not.toContain('Jo Tester');
    expect((await get(`/dashboard/api/members/${bobId}/charts`, cookie)).status).toBe(200);
    const others = await get(`/dashboard/api/members/${alice}/charts`, cookie);
    expect(others.status).toBe(404);
    expect(await others.text()).not.toContain('recovery');
    const page = await (await get('/dashboard', cookie)).text();
    expect(page).not.toContain('connect-form');
    // A member may not do what only the operator does.
    const csrf = csrfOf(page);
    expect((await post('/dashboard/connect', cookie, { _csrf: csrf })).status).toBe(403);
    expect((await post(`/dashboard/members/${alice}/revoke`, cookie, { _csrf: csrf })).status).toBe(403);

    // Exports: B's own rows only; another member's answer 404, like one that does not exist.
    const exported = await get('/export/daily.csv', cookie);
    expect(exported.status).toBe(200);
    const rows = (await exported.text()).trim().split('\n').slice(1);
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((row) => row.startsWith(`${bobId},`))).toBe(true);
    expect((await get(`/export/daily.csv?member=${alice}`, cookie)).status).toBe(404);
    expect((await get(`/export/daily.json?member=${bobId}`, cookie)).status).toBe(200);

    expect((await useLink(ticket)).status).toBe(400);
    const forged = await post('/dashboard/sign-in', undefined, { ticket: 'A'.repeat(43) });
    expect(forged.status).toBeGreaterThanOrEqual(400);
    expect(forged.status).toBeLessThan(500);
    expect((await get('/dashboard/sign-in?ticket=<script>')).status).toBe(400);
  });

  it('someone not linked gets no link', async () => {
    const answer = (await (await env.command('dashboard', { command: '/whoop', user_id: 'U0NOBODY01' })).json()) as { text: string };
    expect(answer.text).toContain('No WHOOP account is linked to you yet');
  });

  it("the operator sees everyone, starts a connection, and revoking B ends B's sessions at once", async () => {
    const { cookie: bobCookie } = await useLink(await dashboardLink(BOB));
    const operator = await operatorCookie();
    const overview = (await (await get('/dashboard/api/overview', operator)).json()) as { viewer: string; accounts: { name: string }[] };
    expect(overview.viewer).toBe('operator');
    expect(overview.accounts.map((account) => account.name).sort()).toEqual(['Bo Private', 'Jo Tester']);

    const page = await get('/dashboard', operator);
    const html = await page.text();
    expect(html).toContain('action="/dashboard/connect"');
    expect(page.headers.get('content-security-policy')).toContain(`form-action 'self' ${new URL(env.whoop.url).origin}`);
    const csrf = csrfOf(html);
    const cookie = sessionCookie(page) ?? operator;
    const connect = await post('/dashboard/connect', cookie, { _csrf: csrf });
    expect(connect.status).toBe(303);
    expect(connect.headers.get('location')!.startsWith(`${env.whoop.url}/oauth/oauth2/auth?`)).toBe(true);
    expect(connect.headers.getSetCookie().some((line) => line.startsWith('whoop_sync_connect='))).toBe(true);
    expect((await post('/dashboard/connect', cookie, { _csrf: 'forged' })).status).toBe(403);

    expect((await get('/dashboard/api/overview', bobCookie)).status).toBe(200);
    const revoke = await post(`/dashboard/members/${bobId}/revoke`, cookie, { _csrf: csrf });
    expect(revoke.status).toBe(303);
    expect((await get('/dashboard/api/overview', bobCookie)).status).toBe(401);
    const help = (await (await env.command('', { command: '/whoop', user_id: BOB })).json()) as { text: string };
    expect(help.text).toContain('No WHOOP account is linked to you yet');
    // Linking again takes connecting again, from a fresh personal link.
    expect((await env.connect(bob, BOB)).status).toBe(200);
  });

  it('changing DASHBOARD_PASSWORD ends every session', async () => {
    const operator = await operatorCookie();
    const { cookie: member } = await useLink(await dashboardLink(BOB));
    const changed = await env.startAnotherApp({ DASHBOARD_PASSWORD: 'another long password 4567' });
    for (const cookie of [operator, member]) {
      expect((await get('/dashboard/api/overview', cookie, changed.url)).status).toBe(401);
    }
  });
});

describe('/status without METRICS_TOKEN', () => {
  it('shows counts and states but names no one', async () => {
    const response = await get('/status');
    expect(response.status).toBe(200);
    const text = await response.text();
    for (const name of ['Jo', 'Tester', 'Bo Private', alice, bobId, 'jo@example.com']) expect(text).not.toContain(name);
    const body = JSON.parse(text) as { accounts: { status: string }[] };
    expect(body.accounts).toHaveLength(2);
    expect(body.accounts.every((account) => account.status === 'active')).toBe(true);
    const home = await (await get('/')).text();
    for (const name of ['Jo', 'Tester', 'Bo Private', alice, bobId]) expect(home).not.toContain(name);
  });

  it('names the members for the operator holding the token', async () => {
    const app = await env.startAnotherApp({ METRICS_TOKEN: 'a metrics token 0123456789' });
    const named = await fetch(`${app.url}/status`, { headers: { authorization: 'Bearer a metrics token 0123456789' } });
    expect(await named.text()).toContain('Bo Private');
    expect((await fetch(`${app.url}/status`)).status).toBe(401);
  });
});

describe('the operator links accounts to Slack users', () => {
  const whoopHelp = async (user: string) => ((await (await env.command('', { command: '/whoop', user_id: user })).json()) as { text: string }).text;
  const NEW_BOB = 'U0BOBNEW01';

  it('lists the members; setting and clearing a Slack user id changes who the account belongs to', async () => {
    const bobSession = await client.memberCookie(BOB);
    const { html, csrf, cookie } = await client.dashboard(await operatorCookie());
    expect(html).toContain(`action="/dashboard/members/${bobId}/slack-user"`);
    expect(html).toContain(`value="${BOB}"`);
    const link = (userId: string, slackUserId: string, as = cookie, token = csrf) =>
      post(`/dashboard/members/${userId}/slack-user`, as, { _csrf: token, slack_user_id: slackUserId });

    // Refused, and nothing changes: a malformed id, a Slack user linked to another account, no such account,
    // a forged form, a member's session.
    const malformed = await link(bobId, 'bob');
    expect(malformed.status).toBe(400);
    expect(await malformed.text()).toContain('starts with U');
    expect((await link(bobId, '<script>')).status).toBe(400);
    expect((await link(bobId, 'U'.repeat(80))).status).toBe(400);
    expect((await link(bobId, ALICE)).status).toBe(409);
    expect((await link('999999999', NEW_BOB)).status).toBe(404);
    expect((await link(bobId, NEW_BOB, cookie, 'forged')).status).toBe(403);
    const member = await client.dashboard(bobSession);
    expect((await link(alice, BOB, member.cookie, member.csrf)).status).toBe(403);
    expect(await whoopHelp(BOB)).toContain('You are linked to *Bo Private*');

    // Cleared: B's Slack user has no account, and B's session ends.
    expect((await link(bobId, '')).status).toBe(303);
    expect(await whoopHelp(BOB)).toContain('No WHOOP account is linked to you yet');
    expect((await get('/dashboard/api/overview', bobSession)).status).toBe(401);

    // Linked to another Slack user, who now gets B's links and settings.
    expect((await link(bobId, NEW_BOB)).status).toBe(303);
    expect(await whoopHelp(NEW_BOB)).toContain('You are linked to *Bo Private*');
    const overview = (await (await get('/dashboard/api/overview', await client.memberCookie(NEW_BOB))).json()) as { accounts: { userId: string }[] };
    expect(overview.accounts.map((account) => account.userId)).toEqual([bobId]);
    expect((await client.dashboard(cookie)).html).toContain(`value="${NEW_BOB}"`);
  });

  it('links one Slack user to one account when two forms link it to two accounts at the same moment', async () => {
    const RACER = 'U0RACE0001';
    const { csrf, cookie } = await client.dashboard(await operatorCookie());
    const link = (userId: string) => post(`/dashboard/members/${userId}/slack-user`, cookie, { _csrf: csrf, slack_user_id: RACER });
    const statuses = (await Promise.all([link(alice), link(bobId)])).map((response) => response.status);
    expect(statuses.sort()).toEqual([303, 409]);
    const rows = await env.app.app.db.query<{ userId: string }>('SELECT user_id::text AS "userId" FROM members WHERE slack_user_id = $1', [RACER]);
    expect(rows).toHaveLength(1);
    const winner = rows[0]!.userId === alice ? 'Jo Tester' : 'Bo Private';
    expect(await whoopHelp(RACER)).toContain(`You are linked to *${winner}*`);
  });
});
