// Two members linked to two Slack users: channel messages show values only for members who share, counts for
// everyone; whoever typed /sync gets their own values privately; /whoop share on|off takes effect for the next
// message. Through the fakes, over signed HTTP, on the test run's database.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Member } from '../fakes/whoop-server.js';
import { ALICE, startEnvironment, type Environment } from '../support/environment.js';
import { settled } from '../support/settled.js';

const BOB = 'U0BOB00001';

describe('sharing: whose values channel messages show', () => {
  let env: Environment;
  let bob: Member;
  const idle = () => settled(env.app.app.db);
  const whoop = async (text: string, user: string) =>
    ((await (await env.command(text, { command: '/whoop', user_id: user })).json()) as { response_type: string; text: string });
  /** Runs /sync as `user` and returns the channel message. */
  const sync = async (user: string) => {
    env.slack.reset();
    expect((await env.command('2', { user_id: user })).status).toBe(200);
    const [message] = await env.slack.waitForMessages(1, 30_000);
    await idle();
    return message!;
  };
  const everything = (message: { text: string; blocks?: unknown[] }) => `${message.text}\n${JSON.stringify(message.blocks ?? [])}`;

  beforeAll(async () => {
    env = await startEnvironment({ days: 5 });
    bob = env.whoop.addMember({ first_name: 'Bo', last_name: 'Private', email: 'bo@example.com' });
    env.whoop.generate(bob.user_id, { days: 5 });
    expect((await env.connect()).status).toBe(200);
    expect((await env.connect(bob, BOB)).status).toBe(200);
  });
  afterAll(async () => env?.close());

  it('links each account to the Slack user who connected it; the first shares, the second does not', async () => {
    const rows = await env.app.app.db.prisma.member.findMany({ orderBy: { createdAt: 'asc' } });
    expect(rows.map((row) => [row.userId.toString(), row.slackUserId, row.shares])).toEqual([
      [String(env.member.user_id), ALICE, true],
      [String(bob.user_id), BOB, false],
    ]);
    const help = await whoop('', BOB);
    expect(help.response_type).toBe('ephemeral');
    expect(help.text).toContain('You are linked to *Bo Private*. Sharing in channels: *off*');
    expect((await whoop('', 'U0NOBODY01')).text).toContain('No WHOOP account is linked to you yet');
  });

  it("never shows B's values in the channel while B does not share; B gets them privately", async () => {
    const message = await sync(BOB);
    expect(message.channel).toBe('C0CHANNEL1');
    expect(message.text).toMatch(/, 2 accounts\n/);
    expect(message.text).toContain('*Jo Tester* ·');
    expect(everything(message)).not.toContain('Bo Private');
    expect(message.text).toContain('_1 member keeps their values private._');
    const [own] = await env.slack.waitForEphemerals(1);
    expect(own).toMatchObject({ channel: 'C0CHANNEL1', user: BOB });
    expect(own!.text).toMatch(/^🔒 Only you can see this: \*Bo Private\* · /);
    // Alice's own /sync: her values in the channel and privately, Bob's nowhere.
    const hers = await sync(ALICE);
    expect(everything(hers)).not.toContain('Bo Private');
    const [mine] = await env.slack.waitForEphemerals(1);
    expect(mine).toMatchObject({ user: ALICE });
    expect(mine!.text).toContain('*Jo Tester*');
    expect(env.slack.ephemerals.map((e) => e.text).join('\n')).not.toContain('Bo Private');
  });

  it('shows them after /whoop share on, and no longer after /whoop share off', async () => {
    expect((await whoop('share on', BOB)).text).toContain('Your values now appear in channel messages');
    const shared = await sync(ALICE);
    expect(shared.text).toContain('*Bo Private* ·');
    expect(shared.text).not.toContain('keeps their values private');
    expect((await whoop('share   OFF', BOB)).text).toContain('Channel messages now show only counts for you');
    expect(everything(await sync(ALICE))).not.toContain('Bo Private');
  });

  it('answers /whoop for someone not linked, and unknown words, without changing anything', async () => {
    expect((await whoop('share on', 'U0NOBODY01')).text).toContain('No WHOOP account is linked to you yet');
    expect((await whoop('dashboard', 'U0NOBODY01')).text).toContain('No WHOOP account is linked to you yet');
    expect((await whoop('<script> & stuff', BOB)).text).toBe("🤔 I don't know `/whoop &lt;script&gt; &amp; stuff`. Type `/whoop` to see what I can do.");
    const rows = await env.app.app.db.prisma.member.findMany({ orderBy: { createdAt: 'asc' } });
    expect(rows.map((row) => row.shares)).toEqual([true, false]);
  });

  it('keeps /sync as it was: a non-number still means 3 days', async () => {
    const ack = (await (await env.command('lots')).json()) as { text: string };
    expect(ack.text).toBe('⏳ Syncing last 3 days...');
    await idle();
  });
});
