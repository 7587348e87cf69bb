// `/whoop forget` and its confirmation button, over POST /slack/interactivity (signed, replay-checked) and over
// Socket Mode: the press is acknowledged at once, forgets only the member who asked, and a forged, replayed,
// foreign or second press does nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAKE_APP_TOKEN } from '../fakes/slack-socket.js';
import type { Member } from '../fakes/whoop-server.js';
import { ALICE, SIGNING_SECRET, signedHeaders, startEnvironment, type Environment } from '../support/environment.js';
import { until } from '../support/until.js';

const BOB = 'U0BOB00001';

interface ActionsBlock {
  type: string;
  elements?: { action_id: string; value: string }[];
}
const CAROL = 'U0CAROL001';

/** A block_actions payload as Slack sends it when `user` presses the button carrying `value`. */
function press(user: string, value: string, responseUrl: string) {
  return {
    type: 'block_actions',
    user: { id: user, username: 'someone', team_id: 'T0FAKE0001' },
    api_app_id: 'A0APP00001',
    team: { id: 'T0FAKE0001', domain: 'testteam' },
    container: { type: 'message', message_ts: '1.000100', channel_id: 'C0CHANNEL1', is_ephemeral: true },
    trigger_id: `${Date.now()}.${Math.random().toString(36).slice(2)}`,
    channel: { id: 'C0CHANNEL1', name: 'health' },
    response_url: responseUrl,
    actions: [{ type: 'button', action_id: 'whoop_forget_confirm', block_id: 'b1', value, action_ts: '1.2' }],
  };
}

describe.each([
  { transport: 'POST /slack/interactivity' as const },
  { transport: 'Socket Mode' as const },
])('/whoop forget over $transport', ({ transport }) => {
  let env: Environment;
  let bob: Member;
  const members = () => env.app.app.db.prisma.member.findMany({ select: { slackUserId: true } });
  const exists = async (member: Member) =>
    (await env.app.app.db.prisma.whoopUser.count({ where: { userId: BigInt(member.user_id) } })) === 1;
  const records = async (member: Member) =>
    (await env.app.app.db.query<{ n: number }>('SELECT count(*)::int AS n FROM whoop_cycles WHERE user_id = $1::bigint', [String(member.user_id)]))[0]!.n;

  /** `/whoop forget` as `user`: the confirmation's button value (its ticket). */
  async function askToForget(user: string): Promise<string> {
    const response = await env.command('forget', { command: '/whoop', user_id: user });
    const answer = (await response.json()) as { text: string; blocks: ActionsBlock[] };
    expect(answer.text).toContain('Forget your WHOOP account?');
    const button = answer.blocks.find((block) => block.type === 'actions')!.elements![0]!;
    expect(button.action_id).toBe('whoop_forget_confirm');
    return button.value;
  }

  /** Sends the press as Slack would; resolves with the HTTP status (Socket Mode: 200 once acknowledged). */
  async function send(payload: object, headers?: Record<string, string>, body?: string): Promise<number> {
    if (transport === 'Socket Mode') {
      const ack = await env.slack.socket.interactive(payload as Record<string, unknown>);
      expect(ack.afterMs).toBeLessThan(3000);
      return 200;
    }
    const form = body ?? new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
    const response = await fetch(`${env.app.url}/slack/interactivity`, { method: 'POST', headers: headers ?? signedHeaders(form), body: form });
    return response.status;
  }

  beforeAll(async () => {
    env = await startEnvironment({ days: 5, env: transport === 'Socket Mode' ? { SLACK_APP_TOKEN: FAKE_APP_TOKEN } : {} });
    bob = env.whoop.addMember({ first_name: 'Bo', last_name: 'Private' });
    env.whoop.generate(bob.user_id, { days: 5 });
    expect((await env.connect()).status).toBe(200);
    expect((await env.connect(bob, BOB)).status).toBe(200);
    await env.app.app.sync.syncAll({ days: 5, trigger: 'cli', requestedBy: 'test' });
    if (transport === 'Socket Mode') await env.slack.socket.waitFor(() => env.slack.socket.connected === 1, 'the app to connect');
  }, 120_000);
  afterAll(async () => env?.close());

  it("refuses a press by someone else, a made-up ticket and (over HTTP) forged signatures; B's data stays", async () => {
    const ticket = await askToForget(BOB);
    const url = env.slack.responseUrl();
    // From another workspace: ignored without a word (it is not ours to answer).
    expect(await send({ ...press(BOB, ticket, url), team: { id: 'T0OTHER001', domain: 'other' } })).toBe(200);
    expect(await send(press(CAROL, ticket, url))).toBe(200);
    expect(await send(press(BOB, 'A'.repeat(43), url))).toBe(200);
    await env.slack.waitForResponses(2);
    expect(env.slack.responses.map((response) => response.body.text)).toEqual([
      expect.stringContaining('That confirmation has expired or was already used'),
      expect.stringContaining('That confirmation has expired or was already used'),
    ]);
    if (transport === 'POST /slack/interactivity') {
      const body = new URLSearchParams({ payload: JSON.stringify(press(BOB, await askToForget(BOB), url)) }).toString();
      const wrongSecret = signedHeaders(body, undefined, `${SIGNING_SECRET}x`);
      expect(await send({}, wrongSecret, body)).toBe(401);
      expect(await send({}, { 'content-type': 'application/x-www-form-urlencoded' }, body)).toBe(401);
      expect(await send({}, signedHeaders(body, Math.floor(Date.now() / 1000) - 600), body)).toBe(401);
      // Correctly signed but not JSON, or not a button press: nothing happens.
      expect(await send({}, undefined, 'payload=%7Bnot-json')).toBe(400);
      expect(await send({ type: 'view_submission', user: { id: BOB } })).toBe(200);
      expect((await fetch(`${env.app.url}/slack/interactivity`, { method: 'POST', headers: signedHeaders('x'.repeat(70_000)), body: 'x'.repeat(70_000) })).status).toBe(413);
    }
    expect(await exists(bob)).toBe(true);
    expect(await records(bob)).toBeGreaterThan(0);
  });

  it("forgets B (and only B) when B presses; a replay or second press does nothing more", async () => {
    const ticket = await askToForget(BOB);
    const url = env.slack.responseUrl();
    const payload = press(BOB, ticket, url);
    const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
    const headers = signedHeaders(body);
    env.slack.reset();
    expect(await send(payload, headers, body)).toBe(200);
    await until(async () => !(await exists(bob)), 'B to be forgotten');
    const [told] = await env.slack.waitForResponses(1);
    expect(told!.body).toMatchObject({ response_type: 'ephemeral', text: expect.stringContaining('Your WHOOP account is disconnected and your data is deleted') });
    expect(await records(bob)).toBe(0);
    // As `npm run forget`: the grant was revoked at WHOOP.
    expect(env.whoop.stats.requests.filter((request) => request.method === 'DELETE')).toHaveLength(1);
    expect(await exists(env.member)).toBe(true);
    expect(await records(env.member)).toBeGreaterThan(0);
    expect(await members()).toEqual([{ slackUserId: ALICE }]);
    // The same signed request again is a replay (refused); a fresh press of the same button finds its ticket spent.
    if (transport === 'POST /slack/interactivity') expect(await send(payload, headers, body)).toBe(401);
    expect(await send(press(BOB, ticket, url))).toBe(200);
    await env.slack.waitForResponses(2);
    expect(env.slack.responses[1]!.body.text).toContain('That confirmation has expired or was already used');
    expect(await exists(env.member)).toBe(true);
    const help = (await (await env.command('', { command: '/whoop', user_id: BOB })).json()) as { text: string };
    expect(help.text).toContain('No WHOOP account is linked to you yet');
  });
});
