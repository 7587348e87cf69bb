// POST /slack/commands end to end: signed requests over HTTP, the real app, the fake WHOOP holding or
// failing, and the fake Slack receiving the result messages.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startApp, testConfig, type RunningApp } from '../support/app.js';
import { createTestDatabase } from '../support/database.js';
import { expectedIds } from '../support/expected.js';
import { clearRecords } from '../support/records.js';
import { signSlackRequest } from '../../src/slack/signature.js';
import { SIGNING_SECRET, signedHeaders, slashCommandBody, startEnvironment, type Environment } from '../support/environment.js';
import { settled } from '../support/settled.js';
import { until } from '../support/until.js';

describe('the /sync slash command', () => {
  let env: Environment;
  const prisma = () => env.app.app.db.prisma;
  const post = (body: string, headers: Record<string, string>) => fetch(`${env.app.url}/slack/commands`, { method: 'POST', headers, body });
  const runCount = () => prisma().syncRun.count();
  /** Waits until every accepted run was executed and reported. */
  const idle = () => settled(env.app.app.db);

  beforeAll(async () => {
    env = await startEnvironment({ days: 30 });
    expect((await env.connect()).status).toBe(200);
  });
  afterEach(async () => {
    await idle();
    await clearRecords(env.app.app.db);
    env.slack.reset();
    env.whoop.resetStats();
  });
  afterAll(async () => env?.close());

  it('acknowledges at once with the ⏳ text, then posts a visible ✅ message with the counts', async () => {
    env.whoop.resetStats();
    const release = env.whoop.hold();
    let ack: Response;
    try {
      const started = performance.now();
      ack = await env.command('7');
      const elapsed = performance.now() - started;
      expect(ack.status).toBe(200);
      expect(await ack.json()).toEqual({ response_type: 'ephemeral', text: '⏳ Syncing last 7 days...' });
      // WHOOP has not answered anything yet: the ack did not wait for it.
      expect(env.whoop.stats.requests.filter((r) => r.path.startsWith('/developer') && r.status !== 0)).toEqual([]);
      expect(env.slack.messages).toEqual([]);
      expect(elapsed).toBeLessThan(3000); // Slack's limit; the benchmark measures the real latency
    } finally {
      release();
    }
    const [message] = await env.slack.waitForMessages(1);
    expect(message!.channel).toBe('C0CHANNEL1');
    // Marked delivered once Slack accepted it, just after.
    await idle();
    expect(message!.text).toMatch(/^✅ Sync for <@U0ALICE001> done in \d+\.\d s: last 7 days \(\d{4}-\d\d-\d\d → \d{4}-\d\d-\d\d UTC\), 1 account\n/);
    const run = await prisma().syncRun.findFirstOrThrow();
    const counts = run.counts as Record<string, { upserted: number }>;
    expect(message!.text).toContain(`cycles ${counts.cycles!.upserted} · recoveries ${counts.recoveries!.upserted} · sleeps ${counts.sleeps!.upserted} · workouts ${counts.workouts!.upserted}`);
    // Every cycle WHOOP holds in the run's window (6 or 7 for 7 days, by the time of day), and no other.
    const expected = expectedIds(env.whoop, env.member.user_id, { start: run.windowStart!, end: run.windowEnd! });
    expect(counts.cycles!.upserted).toBe(expected.cycles.length);
    expect(counts.cycles!.upserted).toBeGreaterThanOrEqual(6);
    expect(run).toMatchObject({ trigger: 'slack', requestedBy: 'U0ALICE001', channelId: 'C0CHANNEL1', days: 7, status: 'succeeded', reportError: null });
    expect(run.reportedAt).toBeInstanceOf(Date);
    // The seed's check: fresh synced_at values.
    const fresh = await prisma().$queryRaw<{ synced_at: Date }[]>`SELECT synced_at FROM whoop_cycles ORDER BY synced_at DESC LIMIT 3`;
    expect(Date.now() - fresh[0]!.synced_at.getTime()).toBeLessThan(60_000);
  });

  it('executes and reports each acknowledged command', async () => {
    for (let i = 0; i < 3; i++) {
      expect((await env.command('1')).status).toBe(200);
      await idle();
      expect(await prisma().syncRun.count({ where: { reportedAt: null } })).toBe(0);
    }
  });

  it('parses the argument as the design says', async () => {
    const table: [string, number][] = [['', 3], ['7', 7], ['abc', 3], ['0', 1], ['-3', 1], ['999', 365], [' 14 ', 14], ['7.5', 3], ['7 days', 3]];
    // WHOOP holds the first sync meanwhile, so the others join one sync after it: the service sends WHOOP
    // at most 100 requests a minute, and nine syncs in a row would spend half of them, making the later
    // tests of this file wait for the window.
    const release = env.whoop.hold();
    try {
      for (const [text, days] of table) {
        const response = await env.command(text);
        expect(await response.json(), `"/sync ${text}"`).toEqual({ response_type: 'ephemeral', text: `⏳ Syncing last ${days} ${days === 1 ? 'day' : 'days'}...` });
      }
    } finally {
      release();
    }
    const runs = await prisma().syncRun.findMany({ orderBy: { id: 'asc' } });
    expect(runs.map((run) => run.days)).toEqual(table.map(([, days]) => days));
    await idle();
    // Every acknowledged command got its own result message.
    expect((await env.slack.waitForMessages(table.length)).every((m) => m.text.startsWith('✅'))).toBe(true);
  });

  it('posts ❌ and the error message when the sync fails', async () => {
    env.whoop.failNext(5, { status: 500, pathPrefix: '/v2/recovery' });
    await env.command('2');
    const [message] = await env.slack.waitForMessages(1, 30_000);
    expect(message!.text).toMatch(/^❌ WHOOP request GET \/developer\/v2\/recovery failed: HTTP 500 \(after 5 attempts over \d+ s\)$/);
    expect(await prisma().syncRun.findFirstOrThrow()).toMatchObject({ status: 'failed' });
  }, 40_000);

  it('falls back to the response_url when the bot cannot post in the channel', async () => {
    env.slack.failNext(1, { error: 'not_in_channel' });
    await env.command('1', { response_url: env.slack.responseUrl('fallback-1') });
    const [response] = await env.slack.waitForResponses(1);
    expect(response!.id).toBe('fallback-1');
    expect(response!.body.response_type).toBe('in_channel');
    expect(String(response!.body.text)).toMatch(/^✅ Sync for <@U0ALICE001>/);
    expect(env.slack.messages).toEqual([]);
  });

  it('keeps the reason on the run when no way of posting works', async () => {
    env.slack.failAlways({ error: 'channel_not_found' });
    env.slack.failResponseUrls(500);
    try {
      await env.command('1', { response_url: env.slack.responseUrl('dead') });
      await until(async () => (await prisma().syncRun.findFirst())?.reportError != null, 'a failed delivery');
      const run = await prisma().syncRun.findFirstOrThrow();
      expect(run.status).toBe('succeeded');
      expect(run.reportedAt).toBeNull();
      expect(run.reportError).toBe('chat.postMessage failed: channel_not_found; response_url answered HTTP 500');
    } finally {
      env.slack.failAlways(null);
      env.slack.failResponseUrls(null);
    }
  });

  it('runs one WHOOP sync at a time for concurrent commands and answers each of them', async () => {
    const release = env.whoop.hold();
    const acks = await Promise.all([env.command('3'), env.command('5'), env.command('2')]);
    expect(acks.map((a) => a.status)).toEqual([200, 200, 200]);
    release();
    const messages = await env.slack.waitForMessages(3);
    expect(messages.every((m) => m.text.startsWith('✅ Sync for <@U0ALICE001>'))).toBe(true);
    const runs = await prisma().syncRun.findMany({ orderBy: { id: 'asc' } });
    // Executions (runs sharing a start) never overlap.
    const executions = [...new Map(runs.map((r) => [r.startedAt!.getTime(), r])).values()]
      .sort((a, b) => a.startedAt!.getTime() - b.startedAt!.getTime());
    for (let i = 1; i < executions.length; i++) {
      expect(executions[i]!.startedAt!.getTime()).toBeGreaterThanOrEqual(executions[i - 1]!.finishedAt!.getTime());
    }
    expect(executions.length).toBeLessThan(3); // runs waiting behind a sync joined the next one
  });

  it('answers other commands with help and starts nothing', async () => {
    const response = await env.command('', { command: '/weather' });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { response_type: string; text: string };
    expect(body.response_type).toBe('ephemeral');
    expect(body.text).toContain('/sync [days]');
    expect(await runCount()).toBe(0);
  });

  it('refuses a signed command from another workspace (learned from auth.test) with an ephemeral 200, starting nothing', async () => {
    expect(env.app.app.slackWorkspace.teamId).toBe('T0FAKE0001');
    const response = await env.command('3', { team_id: 'T0ELSEWHERE' });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      response_type: 'ephemeral',
      text: '🚫 This WHOOP Sync only answers commands from its own Slack workspace; nothing was started.',
    });
    const missing = await env.command('3', { team_id: '' });
    expect((await missing.json()) as { text: string }).toMatchObject({ text: expect.stringContaining('own Slack workspace') });
    expect(await runCount()).toBe(0);
    expect(env.slack.messages).toEqual([]);
  });

  it('checks the signature over the bytes as sent, also where they are not UTF-8', async () => {
    // Latin-1 "é" (0xE9) is not UTF-8: decoding the body before the check would change the signed bytes.
    const body = Buffer.concat([Buffer.from(slashCommandBody('', { command: '/weather' })), Buffer.from('&note='), Buffer.from([0xe9])]);
    const timestamp = Math.floor(Date.now() / 1000);
    const headers = { ...signedHeaders('', timestamp), 'x-slack-signature': signSlackRequest(SIGNING_SECRET, timestamp, body) };
    const response = await fetch(`${env.app.url}/slack/commands`, { method: 'POST', headers, body });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { text: string }).text).toContain('/sync [days]');
    expect(await runCount()).toBe(0);
  });

  it('answers ssl_check with an empty 200 and nothing else', async () => {
    const response = await post('ssl_check=1&token=abc', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('');
    expect(await runCount()).toBe(0);
  });

  it('refuses unsigned, tampered, stale, future, replayed and malformed requests with 401 and starts nothing', async () => {
    const body = slashCommandBody('7');
    const now = Math.floor(Date.now() / 1000);
    const valid = signedHeaders(body, now);
    const cases: [string, string, Record<string, string>][] = [
      ['missing headers', body, { 'content-type': 'application/x-www-form-urlencoded' }],
      ['tampered body', body.replace('text=7', 'text=365'), valid],
      // Well past the 300 s tolerance: `now` is rounded down and the clock moves on while the cases run.
      ['stale timestamp', body, signedHeaders(body, now - 330)],
      ['future timestamp', body, signedHeaders(body, now + 330)],
      ['wrong secret', body, signedHeaders(body, now, 'not-the-secret')],
      ['garbage signature', body, { ...valid, 'x-slack-signature': 'v0=zzz' }],
      ['non-numeric timestamp', body, { ...valid, 'x-slack-request-timestamp': 'yesterday' }],
    ];
    for (const [name, payload, headers] of cases) {
      const response = await post(payload, headers);
      expect(response.status, name).toBe(401);
    }
    const first = await post(body, valid);
    expect(first.status).toBe(200);
    const replay = await post(body, valid);
    expect(replay.status).toBe(401);
    expect(await replay.json()).toMatchObject({ message: 'request signature refused (replayed)' });
    await idle();
    expect(await runCount()).toBe(1);
    const failures = (await env.app.app.metrics.registry.getSingleMetric('whoop_sync_slack_signature_failures_total')!.get()).values;
    expect(Object.fromEntries(failures.map((v) => [v.labels.reason, v.value]))).toMatchObject({
      missing_signature: 1,
      signature_mismatch: 2,
      stale_timestamp: 1,
      future_timestamp: 1,
      malformed_signature: 1,
      malformed_timestamp: 1,
      replayed: 1,
    });
  });

  it('accepts one of the same signed request sent many times at once, and refuses the others as replays', async () => {
    // Sent together, they reach the replay check in one batch: one statement, one signature in it.
    const body = slashCommandBody('2');
    const headers = signedHeaders(body);
    const responses = await Promise.all(Array.from({ length: 5 }, () => post(body, headers)));
    expect(responses.map((response) => response.status).sort()).toEqual([200, 401, 401, 401, 401]);
    // Different signed requests in the same batch are each accepted.
    const others = await Promise.all(['3', '4', '5'].map((text) => env.command(text)));
    expect(others.map((response) => response.status)).toEqual([200, 200, 200]);
    await idle();
    expect(await runCount()).toBe(4);
  });

  it('refuses other content types (415) and oversized bodies (413)', async () => {
    const json = await fetch(`${env.app.url}/slack/commands`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"command":"/sync"}' });
    expect(json.status).toBe(415);
    const big = slashCommandBody('x'.repeat(20_000));
    const oversized = await post(big, signedHeaders(big));
    expect(oversized.status).toBe(413);
    const get = await fetch(`${env.app.url}/slack/commands`);
    expect(get.status).toBe(404);
    expect(await runCount()).toBe(0);
  });
});

describe('rate limits on the public routes', () => {
  let env: Environment;
  beforeAll(async () => {
    env = await startEnvironment({ days: 2 });
    expect((await env.connect()).status).toBe(200);
  });
  afterAll(async () => env?.close());

  it('limits unverified Slack requests per address but never correctly signed ones', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 35; i++) {
      const body = slashCommandBody('1');
      statuses.push((await fetch(`${env.app.url}/slack/commands`, { method: 'POST', headers: signedHeaders(body, undefined, 'forged'), body })).status);
    }
    expect(statuses.slice(0, 30)).toEqual(Array(30).fill(401));
    expect(statuses.slice(30)).toEqual(Array(5).fill(429));
    const genuine = await env.command('1');
    expect(genuine.status).toBe(200);
    await settled(env.app.app.db);
  });

  it('limits the OAuth routes per address', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 22; i++) statuses.push((await fetch(`${env.app.url}/oauth/whoop`, { redirect: 'manual' })).status);
    // One request was spent by connect() above (opening the personal link; its POST is limited apart).
    expect(statuses.filter((s) => s === 403)).toHaveLength(19);
    expect(statuses.slice(19)).toEqual([429, 429, 429]);
  });
});

describe('/sync with allowlists and without a signing secret', () => {
  let env: Environment;
  beforeAll(async () => {
    env = await startEnvironment({ days: 3, env: { SLACK_ALLOWED_USER_IDS: 'U0ALICE001', SLACK_ALLOWED_CHANNEL_IDS: 'C0CHANNEL1,C0CHANNEL2' } });
  });
  afterAll(async () => env?.close());

  it('refuses users and channels outside the allowlists with an ephemeral explanation', async () => {
    const user = await env.command('3', { user_id: 'U0MALLORY1' });
    expect(await user.json()).toMatchObject({ response_type: 'ephemeral', text: expect.stringContaining("You aren't allowed to run `/sync`") });
    const channel = await env.command('3', { channel_id: 'C0ELSEWHERE' });
    expect(await channel.json()).toMatchObject({ response_type: 'ephemeral', text: expect.stringContaining("isn't enabled in this channel") });
    expect(await env.app.app.db.prisma.syncRun.count()).toBe(0);
  });

  /** `/sync 3`, signed, sent to another app on a database of its own, configured with `overrides`. */
  async function commandToOtherApp(
    overrides: Record<string, string>,
    check: (response: Response, other: RunningApp) => Promise<void>,
  ): Promise<void> {
    const db = await createTestDatabase();
    const other = await startApp(testConfig(db, { ...env.env, ...overrides }));
    try {
      const body = slashCommandBody('3');
      await check(await fetch(`${other.url}/slack/commands`, { method: 'POST', headers: signedHeaders(body, undefined, SIGNING_SECRET), body }), other);
    } finally {
      await other.close();
      await db.drop();
    }
  }

  it('refuses commands from another workspace or app set by SLACK_TEAM_ID and SLACK_APP_ID', async () => {
    await commandToOtherApp({ SLACK_TEAM_ID: 'T0OTHER001', SLACK_APP_ID: 'A0APP00001' }, async (response, other) => {
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ response_type: 'ephemeral', text: expect.stringContaining('its own Slack workspace') });
      expect(await other.app.db.prisma.syncRun.count()).toBe(0);
    });
    await commandToOtherApp({ SLACK_TEAM_ID: 'T0FAKE0001', SLACK_APP_ID: 'A0OTHERAPP' }, async (response, other) => {
      expect(await response.json()).toMatchObject({ response_type: 'ephemeral', text: expect.stringContaining('its own Slack app') });
      expect(await other.app.db.prisma.syncRun.count()).toBe(0);
    });
    await commandToOtherApp({ SLACK_TEAM_ID: 'T0FAKE0001', SLACK_APP_ID: 'A0APP00001' }, async (response, other) => {
      expect(await response.json()).toEqual({ response_type: 'ephemeral', text: '⏳ Syncing last 3 days...' });
      await settled(other.app.db);
      expect(await other.app.db.prisma.syncRun.count()).toBe(1);
      env.slack.reset();
    });
  });

  it('answers 503 when SLACK_SIGNING_SECRET is not configured', async () => {
    await commandToOtherApp({ SLACK_SIGNING_SECRET: '' }, async (response, other) => {
      expect(response.status).toBe(503);
      // It names what is missing.
      expect(await response.json()).toEqual({ error: 'Service Unavailable', message: 'SLACK_SIGNING_SECRET is not configured' });
      expect(await other.app.db.prisma.syncRun.count()).toBe(0);
    });
  });

  it('tells the channel where to connect WHOOP when no account is connected, escaping the address', async () => {
    await commandToOtherApp({ PUBLIC_URL: 'https://x.example/a&b' }, async (ack) => {
      expect(await ack.json()).toEqual({ response_type: 'ephemeral', text: '⏳ Syncing last 3 days...' });
      const [message] = await env.slack.waitForMessages(1);
      expect(message!.text).toBe('❌ No WHOOP account is connected yet: connect one with /whoop connect in Slack, or from the dashboard at https://x.example/a&amp;b/dashboard');
    });
  });
});
