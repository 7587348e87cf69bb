// Digests in a team: the digest channel shows only members who share; every linked member whose digest is on gets
// their own morning digest and weekly report (with their chart) by direct message, also when no digest channel is
// set; `/whoop digest off` stops it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Member } from '../fakes/whoop-server.js';
import { ALICE, startEnvironment, type Environment } from '../support/environment.js';
import { pngSize } from '../support/png.js';

const CHANNEL = 'C0DIGEST01';
const BOB = 'U0BOB00001';

describe('personal digests by direct message', () => {
  let env: Environment;
  let bob: Member;
  let slot = Date.parse('2026-01-01T07:00:00Z');
  const nextSlot = () => new Date((slot += 3_600_000));
  const whoop = async (text: string, user: string) => ((await (await env.command(text, { command: '/whoop', user_id: user })).json()) as { text: string }).text;

  beforeAll(async () => {
    env = await startEnvironment({
      days: 30,
      env: { SLACK_DIGEST_CHANNEL: CHANNEL, DIGEST_DAILY: '0 7 * * *', DIGEST_WEEKLY: '0 9 * * 0' },
    });
    bob = env.whoop.addMember({ first_name: 'Bo', last_name: 'Private' });
    env.whoop.generate(bob.user_id, { days: 30 });
    expect((await env.connect()).status).toBe(200);
    expect((await env.connect(bob, BOB)).status).toBe(200);
    await env.app.app.sync.syncAll({ days: 30, trigger: 'cli', requestedBy: 'test' });
  }, 120_000);
  afterAll(async () => env?.close());

  it('the morning digest: the channel shows A only; A and B each get their own by direct message', async () => {
    env.slack.reset();
    expect(await env.app.app.digests.runSlot('daily', nextSlot())).toBe('posted');
    const messages = await env.slack.waitForMessages(3);
    const channel = messages.find((message) => message.channel === CHANNEL)!;
    expect(channel.text).toContain('*Jo Tester*');
    expect(channel.text).toContain('_1 member keeps their values private._');
    expect(`${channel.text}${JSON.stringify(channel.blocks)}`).not.toContain('Bo Private');
    const toBob = messages.find((message) => message.channel === env.slack.directMessageChannel(BOB))!;
    expect(toBob.text).toMatch(/^\*🌅 Morning digest · /);
    expect(toBob.text).toContain('*Bo Private*');
    expect(toBob.text).not.toContain('Jo Tester');
    const toAlice = messages.find((message) => message.channel === env.slack.directMessageChannel(ALICE))!;
    expect(toAlice.text).toContain('*Jo Tester*');
    expect(toAlice.text).not.toContain('Bo Private');
    expect(messages).toHaveLength(3);
  });

  it('the weekly report: B gets their own chart by direct message; the channel only A\'s', async () => {
    env.slack.reset();
    expect(await env.app.app.digests.runSlot('weekly', nextSlot())).toBe('posted');
    const uploads = await env.slack.waitForUploads(3, 60_000);
    const channel = uploads.find((upload) => upload.channel === CHANNEL)!;
    expect(channel.files.map((file) => file.title)).toEqual([expect.stringMatching(/^Jo Tester: /)]);
    expect(channel.initialComment).not.toContain('Bo Private');
    const toBob = uploads.find((upload) => upload.channel === env.slack.directMessageChannel(BOB))!;
    expect(toBob.initialComment).toMatch(/^\*📊 Weekly report · /);
    expect(toBob.initialComment).toContain('*Bo Private*');
    expect(toBob.files.map((file) => file.title)).toEqual([expect.stringMatching(/^Bo Private: recovery and HRV/)]);
    expect(pngSize(toBob.files[0]!.bytes)).toEqual({ width: 1440, height: 640 });
  }, 90_000);

  it('/whoop digest off stops the direct messages; /whoop share on brings B into the channel', async () => {
    expect(await whoop('digest off', BOB)).toContain('No more digests by direct message');
    expect(await whoop('share on', BOB)).toContain('Your values now appear');
    env.slack.reset();
    expect(await env.app.app.digests.runSlot('daily', nextSlot())).toBe('posted');
    const messages = await env.slack.waitForMessages(2);
    await env.app.app.digests.idle(5_000);
    const channels = messages.map((message) => message.channel).sort();
    expect(channels).toEqual([CHANNEL, env.slack.directMessageChannel(ALICE)].sort());
    const channel = messages.find((message) => message.channel === CHANNEL)!;
    expect(channel.text).toContain('*Bo Private*');
    expect(channel.text).not.toContain('keeps their values private');
    expect(env.slack.messages.filter((message) => message.channel === env.slack.directMessageChannel(BOB))).toEqual([]);
  });

  it('a direct message Slack refuses does not stop the channel post or the others', async () => {
    env.slack.reset();
    env.slack.failNext(1, { error: 'user_not_found' }, { method: 'conversations.open' });
    expect(await env.app.app.digests.runSlot('daily', nextSlot())).toBe('posted');
    const messages = await env.slack.waitForMessages(1);
    expect(messages[0]!.channel).toBe(CHANNEL);
  });
});

describe('personal digests without a digest channel', () => {
  let env: Environment;
  let bob: Member;

  beforeAll(async () => {
    env = await startEnvironment({ days: 30, env: { DIGEST_DAILY: '0 7 * * *', DIGEST_WEEKLY: '0 9 * * 0' } });
    bob = env.whoop.addMember({ first_name: 'Bo', last_name: 'Private' });
    env.whoop.generate(bob.user_id, { days: 30 });
    expect((await env.connect()).status).toBe(200);
    expect((await env.connect(bob, BOB)).status).toBe(200);
    await env.app.app.sync.syncAll({ days: 30, trigger: 'cli', requestedBy: 'test' });
  }, 120_000);
  afterAll(async () => env?.close());

  it('each linked member still gets their own morning digest and weekly report by direct message, no channel post', async () => {
    expect(env.config.digest.channel).toBeUndefined();
    env.slack.reset();
    expect(await env.app.app.digests.runSlot('daily', new Date('2026-01-01T07:00:00Z'))).toBe('posted');
    const messages = await env.slack.waitForMessages(2);
    expect(messages.map((message) => message.channel).sort()).toEqual(
      [env.slack.directMessageChannel(ALICE), env.slack.directMessageChannel(BOB)].sort(),
    );
    const toBob = messages.find((message) => message.channel === env.slack.directMessageChannel(BOB))!;
    expect(toBob.text).toContain('*Bo Private*');
    expect(toBob.text).not.toContain('Jo Tester');

    env.slack.reset();
    expect(await env.app.app.digests.runSlot('weekly', new Date('2026-01-04T09:00:00Z'))).toBe('posted');
    const uploads = await env.slack.waitForUploads(2, 60_000);
    expect(uploads.map((upload) => upload.channel).sort()).toEqual(
      [env.slack.directMessageChannel(ALICE), env.slack.directMessageChannel(BOB)].sort(),
    );
  }, 90_000);

  it('with every member\'s digest off, a slot does nothing at all', async () => {
    const whoop = async (text: string, user: string) => (await env.command(text, { command: '/whoop', user_id: user })).status;
    expect(await whoop('digest off', BOB)).toBe(200);
    expect(await whoop('digest off', ALICE)).toBe(200);
    env.slack.reset();
    const runs = await env.app.app.db.query('SELECT id FROM sync_runs');
    expect(await env.app.app.digests.runSlot('daily', new Date('2026-01-02T07:00:00Z'))).toBe('no_recipients');
    await env.app.app.digests.idle(5_000);
    expect(env.slack.messages).toEqual([]);
    expect(await env.app.app.db.query('SELECT id FROM sync_runs')).toHaveLength(runs.length);
    expect(await env.app.app.db.query("SELECT 1 FROM digest_posts WHERE slot = '2026-01-02T07:00:00Z'")).toEqual([]);
  });
});
