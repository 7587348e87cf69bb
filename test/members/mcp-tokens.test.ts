// A member's own MCP token: created on their dashboard (shown once, CSRF-checked), it makes the MCP server answer
// for that member only (no other member's rows, name or id); revoking it, or the operator revoking the member,
// ends it at once; MCP_TOKEN stays the operator's and sees everyone.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Member } from '../fakes/whoop-server.js';
import { dashboardClient } from '../support/dashboard-client.js';
import { startEnvironment, type Environment } from '../support/environment.js';

const PASSWORD = 'a long dashboard password 0123';
const OPERATOR_TOKEN = 'mcp-token-for-tests-0123456789abcdef-0123';
const BOB = 'U0BOB00001';

let env: Environment;
let bob: Member;
let alice: string;
let bobId: string;
let dashboard: ReturnType<typeof dashboardClient>;
const clients: Client[] = [];

async function mcpClient(token: string): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL(`${env.app.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } });
  const client = new Client({ name: 'whoop-sync-test', version: '1.0.0' });
  await client.connect(transport);
  clients.push(client);
  return client;
}

async function call(client: Client, name: string, args: Record<string, unknown> = {}) {
  type Result = { content: { text: string }[]; isError?: boolean };
  const result = (await client.callTool({ name, arguments: args })) as Result;
  return { isError: result.isError === true, text: result.content[0]!.text };
}

/** Creates a token on the member's dashboard, as they would: the page that shows it once. */
async function createToken(signedIn: string): Promise<string> {
  const { html, csrf, cookie } = await dashboard.dashboard(signedIn);
  expect(html).toContain('action="/dashboard/mcp-token"');
  const created = await dashboard.post('/dashboard/mcp-token', cookie, { _csrf: csrf });
  expect(created.status).toBe(200);
  expect(created.headers.get('cache-control')).toBe('no-store');
  return /<code id="mcp-token-value">([^<]+)<\/code>/.exec(await created.text())![1]!;
}

const refused = async (token: string) =>
  (await fetch(`${env.app.url}/mcp`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
  })).status;

beforeAll(async () => {
  env = await startEnvironment({ days: 20, env: { DASHBOARD_PASSWORD: PASSWORD, MCP_TOKEN: OPERATOR_TOKEN } });
  dashboard = dashboardClient(env, PASSWORD);
  bob = env.whoop.addMember({ first_name: 'Bo', last_name: 'Private' });
  env.whoop.generate(bob.user_id, { days: 20 });
  expect((await env.connect()).status).toBe(200);
  expect((await env.connect(bob, BOB)).status).toBe(200);
  await env.app.app.sync.syncAll({ days: 20, trigger: 'cli', requestedBy: 'test' });
  alice = String(env.member.user_id);
  bobId = String(bob.user_id);
}, 120_000);
afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await env?.close();
});

describe("a member's own MCP token", () => {
  it("sees only B's data: no other member's rows, name or id", async () => {
    const cookie = await dashboard.memberCookie(BOB);
    const token = await createToken(cookie);
    expect(token).toMatch(/^wsm_/);
    // Shown once: the dashboard says a token exists, never the token itself.
    const { html } = await dashboard.dashboard(cookie);
    expect(html).toContain('You have a token');
    expect(html).not.toContain(token);
    const stored = await env.app.app.db.query<{ tokenHash: string }>('SELECT token_hash AS "tokenHash" FROM member_mcp_tokens');
    expect(stored).toHaveLength(1);
    expect(stored[0]!.tokenHash).not.toContain(token.slice(4, 20));

    const client = await mcpClient(token);
    const answers: string[] = [];
    const latest = await call(client, 'latest');
    answers.push(latest.text);
    expect(JSON.parse(latest.text).members.map((m: { member_id: string }) => m.member_id)).toEqual([bobId]);
    const status = await call(client, 'sync_status');
    answers.push(status.text);
    expect(JSON.parse(status.text).members.map((m: { name: string }) => m.name)).toEqual(['Bo Private']);
    // Without a member argument the token's member is the one; another's id or name is not found.
    const daily = await call(client, 'daily', { days: 7 });
    expect(daily.isError).toBe(false);
    expect(JSON.parse(daily.text).member_id).toBe(bobId);
    answers.push(daily.text);
    for (const other of [alice, 'Jo', 'Jo Tester']) {
      const refusal = await call(client, 'trend', { member: other, metric: 'hrv_ms' });
      expect(refusal.isError).toBe(true);
      // The refusal repeats what was asked, and lists only B as connected.
      expect(refusal.text).toContain(`Connected: Bo Private (${bobId})`);
      answers.push(refusal.text.replace(`"${other}"`, ''));
    }
    for (const tool of ['sleep', 'workouts']) answers.push((await call(client, tool)).text);
    for (const text of answers) {
      expect(text).not.toContain(alice);
      expect(text).not.toContain('Jo Tester');
      expect(text).not.toContain('jo@example.com');
    }
  });

  it('the operator token sees everyone', async () => {
    const client = await mcpClient(OPERATOR_TOKEN);
    const latest = JSON.parse((await call(client, 'latest')).text) as { members: { member_id: string }[] };
    expect(latest.members.map((m) => m.member_id).sort()).toEqual([alice, bobId].sort());
    const status = JSON.parse((await call(client, 'sync_status')).text) as { members: { name: string }[] };
    expect(status.members.map((m) => m.name).sort()).toEqual(['Bo Private', 'Jo Tester']);
  });

  it('a revoked or replaced token is refused (401) at once', async () => {
    const cookie = await dashboard.memberCookie(BOB);
    const first = await createToken(cookie);
    const second = await createToken(cookie);
    expect(await refused(first)).toBe(401);
    await mcpClient(second);
    const form = await dashboard.dashboard(cookie);
    expect((await dashboard.post('/dashboard/mcp-token/revoke', form.cookie, { _csrf: form.csrf })).status).toBe(303);
    expect(await refused(second)).toBe(401);
    await expect(mcpClient(second)).rejects.toThrow();
    expect((await dashboard.dashboard(cookie)).html).toContain('You have no token');
    // Not a token at all, or a well-formed one never issued.
    expect(await refused('wsm_' + 'A'.repeat(43))).toBe(401);
    expect(await refused('not a token')).toBe(401);
  });

  it('forms need their CSRF token; the operator has no member token; revoking the member ends theirs', async () => {
    const { cookie } = await dashboard.dashboard(await dashboard.memberCookie(BOB));
    expect((await dashboard.post('/dashboard/mcp-token', cookie, { _csrf: 'forged' })).status).toBe(403);
    expect((await dashboard.post('/dashboard/mcp-token', cookie, {})).status).toBe(403);
    expect((await dashboard.post('/dashboard/mcp-token', undefined, {})).status).toBe(303);
    const token = await createToken(cookie);
    await mcpClient(token);

    const { html, csrf, cookie: operator } = await dashboard.dashboard(await dashboard.operatorCookie());
    expect(html).not.toContain('action="/dashboard/mcp-token"');
    expect((await dashboard.post('/dashboard/mcp-token', operator, { _csrf: csrf })).status).toBe(403);
    expect((await dashboard.post(`/dashboard/members/${bobId}/revoke`, operator, { _csrf: csrf })).status).toBe(303);
    expect(await refused(token)).toBe(401);
  });
});
