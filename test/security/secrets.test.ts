// No credential ever reaches the logs. One realistic run of the real app at LOG_LEVEL=trace, with every log
// line captured: seeding from WHOOP_REFRESH_TOKEN, connecting an account through the OAuth flow, syncs that
// succeed, a token refresh, a sync that fails, Slack posting failures, refused Slack requests, /metrics and
// /status with a bearer token, a grant WHOOP revokes and the account connected again. Then no secret of the
// run may appear in any captured line.
//
// The logger is the production one: src/logger.ts's options (with its redaction paths), at trace level, with
// only the destination swapped for an in-memory stream. A bare `{ level, stream }` logger would test a
// configuration that never runs. Console output during the run is captured too (the Slack Web API client
// logs through the console).
//
// Every token WHOOP issues is collected where it is issued: the app talks to the fake WHOOP through a
// small recording proxy that reads the token endpoint's answers (access and refresh tokens), its requests
// (codes and refresh tokens sent) and the authorize redirects (codes, states). The tokens the app stores are
// checked against that collection, so the proxy provably saw all of them.
import { randomBytes } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loggerOptions } from '../../src/logger.js';
import { startFakeSlack, type FakeSlack } from '../fakes/slack-server.js';
import { startFakeWhoop, type FakeWhoop, type Member } from '../fakes/whoop-server.js';
import { startApp, testConfig, type RunningApp } from '../support/app.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { connect as connectMember, SIGNING_SECRET, signedHeaders, slashCommandBody, startPersonalConnect } from '../support/environment.js';
import { until } from '../support/until.js';
import { settled } from '../support/settled.js';

// ---------------------------------------------------------------------------------------------------------
// A recording proxy in front of the fake WHOOP
// ---------------------------------------------------------------------------------------------------------

interface RecordingProxy {
  url: string;
  /** Access and refresh tokens WHOOP handed out, and refresh tokens sent to it. */
  tokens: Set<string>;
  /** Authorization codes WHOOP issued or was sent. */
  codes: Set<string>;
  /** OAuth states seen in authorize requests and redirects. */
  states: Set<string>;
  close(): Promise<void>;
}

async function startRecordingProxy(targetUrl: string): Promise<RecordingProxy> {
  const target = new URL(targetUrl);
  const tokens = new Set<string>();
  const codes = new Set<string>();
  const states = new Set<string>();
  const add = (set: Set<string>, value: unknown) => {
    if (typeof value === 'string' && value !== '') set.add(value);
  };
  const noteQuery = (search: URLSearchParams) => {
    add(codes, search.get('code'));
    add(states, search.get('state'));
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const url = new URL(req.url ?? '/', 'http://proxy.invalid');
      noteQuery(url.searchParams);
      if (url.pathname === '/oauth/oauth2/token') {
        const form = new URLSearchParams(body.toString('utf8'));
        add(codes, form.get('code'));
        add(tokens, form.get('refresh_token'));
      }
      const headers: IncomingHttpHeaders = { ...req.headers, host: target.host };
      delete headers.connection;
      const upstream = httpRequest(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers },
        (response) => {
          const parts: Buffer[] = [];
          response.on('data', (chunk: Buffer) => parts.push(chunk));
          response.on('end', () => {
            const answer = Buffer.concat(parts);
            if (url.pathname === '/oauth/oauth2/token') {
              try {
                const json = JSON.parse(answer.toString('utf8')) as Record<string, unknown>;
                add(tokens, json.access_token);
                add(tokens, json.refresh_token);
              } catch {
                // not JSON (an injected fault): nothing issued
              }
            }
            const location = response.headers.location;
            if (location) noteQuery(new URL(location, 'http://proxy.invalid').searchParams);
            const out: Record<string, string | string[]> = {};
            for (const [name, value] of Object.entries(response.headers)) {
              if (value !== undefined && !['transfer-encoding', 'connection', 'content-length', 'keep-alive'].includes(name)) out[name] = value;
            }
            out['content-length'] = String(answer.length);
            res.writeHead(response.statusCode ?? 502, out);
            res.end(answer);
          });
          response.on('error', () => res.destroy());
        },
      );
      upstream.on('error', () => res.destroy());
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    tokens,
    codes,
    states,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

// ---------------------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------------------

describe('secrets never reach the logs', () => {
  const lines: string[] = [];
  const consoleLines: string[] = [];
  const stream = { write: (line: string) => void lines.push(line) };

  const METRICS_TOKEN = `metrics-${randomBytes(18).toString('base64url')}`;
  const ENCRYPTION_KEY = randomBytes(32);
  const PREVIOUS_KEY = randomBytes(32);

  let db: TestDatabase;
  let whoop: FakeWhoop;
  let slack: FakeSlack;
  let proxy: RecordingProxy;
  let member: Member;
  let app: RunningApp;
  /** Signatures of the requests the app accepted (a leaked one could be replayed for 5 minutes). */
  const acceptedSignatures: string[] = [];
  /** Tokens read back from the app's token store (decrypted) after each step. */
  const storedTokens = new Set<string>();
  let seed: { access_token: string; refresh_token: string };
  let logLevel = '';

  const post = (body: string, headers: Record<string, string>) => fetch(`${app.url}/slack/commands`, { method: 'POST', headers, body });
  const idle = () => settled(app.app.db, 60_000);
  const noteStoredTokens = async () => {
    const row = await app.app.whoop.tokens.get(BigInt(member.user_id));
    if (row?.accessToken) storedTokens.add(row.accessToken);
    if (row?.refreshToken) storedTokens.add(row.refreshToken);
  };
  /** A /sync, waiting for its result to be delivered, or (`refused`) for Slack to have refused it once. */
  const sync = async (text: string, fields: Record<string, string> = {}, refused = false) => {
    const body = slashCommandBody(text, fields);
    const headers = signedHeaders(body);
    const response = await post(body, headers);
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('⏳ Syncing');
    acceptedSignatures.push(headers['x-slack-signature']);
    if (refused) {
      const latest = () => app.app.db.prisma.syncRun.findFirst({ orderBy: { id: 'desc' } });
      await until(async () => (await latest())?.reportError != null, 'Slack to refuse the result', 60_000);
    } else {
      await idle();
    }
    await noteStoredTokens();
  };
  const connect = async () => {
    const response = await connectMember(app.url, whoop, member);
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('Connected as');
    await noteStoredTokens();
  };

  beforeAll(async () => {
    for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => void consoleLines.push(args.map(String).join(' ')));
    }
    db = await createTestDatabase();
    whoop = await startFakeWhoop();
    slack = await startFakeSlack();
    proxy = await startRecordingProxy(whoop.url);
    member = whoop.addMember({ first_name: 'Sam', last_name: 'Secret', email: 'sam@example.com' });
    whoop.generate(member.user_id, { days: 10 });
    // A grant from "another tool", handed to the service through WHOOP_REFRESH_TOKEN.
    seed = whoop.issueGrant(member.user_id);

    const config = testConfig(db, {
      LOG_LEVEL: 'trace',
      WHOOP_API_URL: proxy.url,
      WHOOP_CLIENT_ID: whoop.clientId,
      WHOOP_CLIENT_SECRET: whoop.clientSecret,
      WHOOP_REFRESH_TOKEN: seed.refresh_token,
      WHOOP_ACCESS_TOKEN: seed.access_token,
      SLACK_API_URL: slack.apiUrl,
      SLACK_BOT_TOKEN: slack.botToken,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      METRICS_TOKEN,
      TOKEN_ENCRYPTION_KEY: ENCRYPTION_KEY.toString('base64'),
      TOKEN_ENCRYPTION_PREVIOUS_KEYS: PREVIOUS_KEY.toString('hex'),
    });
    // The production logger options, writing into `lines` instead of stdout.
    const { transport: _transport, stream: _stdout, ...production } = loggerOptions(config) as Record<string, unknown>;
    app = await startApp(config, { logger: { ...production, level: 'trace', stream } });
    logLevel = app.app.log.level;

    // 1. Seeding from WHOOP_REFRESH_TOKEN (in the background at start-up).
    await app.app.whoop.seeded;
    await noteStoredTokens();
    expect(storedTokens.size).toBeGreaterThan(0);

    // 2. Connecting the account through the OAuth flow.
    await connect();

    // 3. A /sync that succeeds.
    await sync('3');
    expect(slack.messages.at(-1)?.text).toMatch(/^✅/);

    // 4. A token refresh: WHOOP stops accepting the access token, the sync refreshes and goes on.
    const refreshes = whoop.stats.refreshes;
    whoop.expireAccessTokens();
    await sync('2');
    expect(whoop.stats.refreshes).toBeGreaterThan(refreshes);
    expect(slack.messages.at(-1)?.text).toMatch(/^✅/);

    // 5. A /sync that fails (WHOOP answers 500 until the retries are spent).
    whoop.failNext(5, { status: 500, pathPrefix: '/v2/cycle' });
    await sync('1');
    expect(slack.messages.at(-1)?.text).toMatch(/^❌/);

    // 6. Slack posting failures: a platform error (falls back to the response_url), then Slack down for
    // both ways of posting, then a connection reset.
    slack.failNext(1, { error: 'not_in_channel' });
    await sync('1', { response_url: slack.responseUrl('fallback') });
    expect(slack.responses.length).toBe(1);
    slack.failAlways({ status: 500 });
    slack.failResponseUrls(500);
    await sync('1', { response_url: slack.responseUrl('dead') }, true);
    slack.failAlways({ reset: true });
    await sync('1', {}, true);
    slack.failAlways(null);
    slack.failResponseUrls(null);
    // The two results Slack refused are retried with backoff: wait until they are delivered, so that they do
    // not arrive after, and stand in for, the results the steps below look at.
    await until(
      async () => (await app.app.db.prisma.syncRun.count({ where: { reportedAt: null, reportGaveUpAt: null } })) === 0,
      'the refused results to be delivered on a retry',
      60_000,
    );

    // 7. Refused Slack requests: wrong secret, tampered body, stale timestamp, replay.
    const body = slashCommandBody('5');
    const valid = signedHeaders(body);
    const now = Math.floor(Date.now() / 1000);
    for (const [payload, headers] of [
      [body, signedHeaders(body, now, 'not-the-signing-secret')],
      [body.replace('text=5', 'text=365'), valid],
      [body, signedHeaders(body, now - 3600)],
    ] as const) {
      expect((await post(payload, headers)).status).toBe(401);
    }
    expect((await post(body, valid)).status).toBe(200);
    acceptedSignatures.push(valid['x-slack-signature']);
    expect((await post(body, valid)).status).toBe(401);
    await idle();

    // 8. Operator endpoints with and without the bearer token.
    expect((await fetch(`${app.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).status).toBe(200);
    expect((await fetch(`${app.url}/status`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).status).toBe(200);
    expect((await fetch(`${app.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}x` } })).status).toBe(401);
    expect((await fetch(`${app.url}/metrics`, { headers: { authorization: METRICS_TOKEN } })).status).toBe(401);

    // 9. A callback with a state the service issued but a code WHOOP refuses, and a forged one.
    const started = await startPersonalConnect(app.url);
    const issuedState = new URL(started.location).searchParams.get('state')!;
    proxy.states.add(issuedState);
    const bogusCode = `bogus-${randomBytes(12).toString('base64url')}`;
    proxy.codes.add(bogusCode);
    expect((await fetch(`${app.url}/oauth/whoop/callback?state=${issuedState}&code=${bogusCode}`, { headers: { cookie: started.cookie } })).status).toBe(400);
    expect((await fetch(`${app.url}/oauth/whoop/callback?state=forged-state-value&code=forged-code`)).status).toBe(400);

    // 10. WHOOP revokes the grant: the refresh fails with invalid_grant, the sync fails and asks for a
    // reconnection; connecting again restores it.
    whoop.revokeGrants();
    whoop.expireAccessTokens();
    await sync('1');
    expect(slack.messages.at(-1)?.text).toMatch(/^❌/);
    await connect();
    await sync('1');
    expect(slack.messages.at(-1)?.text).toMatch(/^✅/);

    await app.close();
    vi.restoreAllMocks();
  }, 120_000);

  afterAll(async () => {
    vi.restoreAllMocks();
    await app?.close().catch(() => {});
    await proxy?.close();
    await whoop?.close();
    await slack?.close();
    await db?.drop();
  });

  /** The captured lines that contain `secret` in any of the forms a log line could carry it. */
  function leaks(secret: string): string[] {
    const forms = new Set([secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1)]);
    return [...lines, ...consoleLines].filter((line) => [...forms].some((form) => line.includes(form)));
  }

  function expectAbsent(what: string, secrets: Iterable<string>): void {
    const found: string[] = [];
    for (const secret of secrets) {
      for (const line of leaks(secret)) found.push(`${what} in: ${line.split(secret).join('‹SECRET›').trim().slice(0, 400)}`);
    }
    expect(found, found.slice(0, 5).join('\n')).toEqual([]);
  }

  it('captured a realistic, non-trivial log of the whole run', () => {
    const text = lines.join('');
    expect(lines.length).toBeGreaterThan(60);
    for (const message of [
      'seeded the WHOOP token store from WHOOP_REFRESH_TOKEN',
      'WHOOP account connected',
      'sync succeeded',
      'WHOOP token refreshed',
      'WHOOP request failed; retrying',
      'sync failed',
      'posting the sync result failed',
      'could not deliver the result',
      'Slack request refused',
      'operator endpoint refused',
      'WHOOP connect callback failed',
      'WHOOP connect callback refused',
      'WHOOP account needs to be reconnected',
      'request completed',
    ]) {
      expect(text, `no "${message}" in the captured log`).toContain(message);
    }
    expect(logLevel).toBe('trace');
  });

  it('collected every token the run used', () => {
    // access + refresh per grant: seed, seed refresh, connect, refresh, reconnect (and more with retries)
    expect(proxy.tokens.size).toBeGreaterThanOrEqual(8);
    expect(proxy.codes.size).toBeGreaterThanOrEqual(3);
    expect(proxy.states.size).toBeGreaterThanOrEqual(3);
    // Whatever the app stored came through the proxy (or is the seed it was given).
    const known = new Set([...proxy.tokens, seed.access_token, seed.refresh_token]);
    expect([...storedTokens].filter((token) => !known.has(token))).toEqual([]);
  });

  it('never logs the Slack signing secret or the bot token', () => {
    expectAbsent('SLACK_SIGNING_SECRET', [SIGNING_SECRET]);
    expectAbsent('SLACK_BOT_TOKEN', [slack.botToken]);
  });

  it('never logs the WHOOP client secret', () => {
    expectAbsent('WHOOP_CLIENT_SECRET', [whoop.clientSecret]);
  });

  it('never logs a WHOOP access or refresh token', () => {
    expectAbsent('WHOOP token', [...proxy.tokens, ...storedTokens, seed.access_token, seed.refresh_token]);
  });

  it('never logs METRICS_TOKEN or the token encryption keys', () => {
    expectAbsent('METRICS_TOKEN', [METRICS_TOKEN]);
    expectAbsent('TOKEN_ENCRYPTION_KEY', [ENCRYPTION_KEY.toString('base64'), ENCRYPTION_KEY.toString('hex'), ENCRYPTION_KEY.toString('base64url')]);
    expectAbsent('TOKEN_ENCRYPTION_PREVIOUS_KEYS', [PREVIOUS_KEY.toString('base64'), PREVIOUS_KEY.toString('hex'), PREVIOUS_KEY.toString('base64url')]);
  });

  it('never logs the signatures of accepted Slack requests', () => {
    expectAbsent('accepted X-Slack-Signature', acceptedSignatures.map((signature) => signature.slice(3)));
  });

  it('never logs an OAuth authorization code', () => {
    expectAbsent('OAuth code', proxy.codes);
  });

  it('never logs an OAuth state', () => {
    expectAbsent('OAuth state', proxy.states);
  });
});
