// A complete test environment: a fresh database, a fake WHOOP with one member and generated data, a fake
// Slack, and the real app listening on a real port, configured exactly as a user would configure it.
import type { Config } from '../../src/config/config.js';
import { signSlackRequest } from '../../src/slack/signature.js';
import { startFakeSlack, type FakeSlack } from '../fakes/slack-server.js';
import { startFakeWhoop, type FakeWhoop, type FakeWhoopOptions, type Member } from '../fakes/whoop-server.js';
import { startApp, testConfig, type RunningApp } from './app.js';
import { createTestDatabase, type TestDatabase } from './database.js';

export const SIGNING_SECRET = 'test-signing-secret-0123456789abcdef';

/**
 * WHOOP's limit raised at both ends, the fake's window and WHOOP_RATE_LIMIT_PER_MINUTE: the default of the
 * environments below unless a test sets the fake's limit. At WHOOP's 100 a minute, a test file sending more
 * waited up to a minute for the budget, which tested nothing and brought tests near their time limits; the
 * tests of the budget and of pacing set their own limit.
 */
export function unpaced(whoop: FakeWhoopOptions = {}): { whoop: FakeWhoopOptions; env: Record<string, string> } {
  if (whoop.rateLimit !== undefined) return { whoop, env: {} };
  return { whoop: { ...whoop, rateLimit: { perMinute: 100_000 } }, env: { WHOOP_RATE_LIMIT_PER_MINUTE: '100000' } };
}

export interface Environment {
  db: TestDatabase;
  whoop: FakeWhoop;
  slack: FakeSlack;
  member: Member;
  env: Record<string, string>;
  config: Config;
  app: RunningApp;
  /** Starts another app instance on the same database (Postgres only: PGlite is single-process). */
  startAnotherApp(env?: Record<string, string>): Promise<RunningApp>;
  /**
   * Connects the member through the real flow, as a person would: `/whoop connect` in Slack as `slackUserId`
   * (default: U0ALICE001 for the environment's member, U0M<user id> for others), the personal link, WHOOP's
   * authorize page, the callback in the same browser.
   */
  connect(member?: Member, slackUserId?: string): Promise<Response>;
  /** Sends a correctly signed slash command. */
  command(text: string, fields?: Record<string, string>): Promise<Response>;
  close(): Promise<void>;
}

export interface EnvironmentOptions {
  whoop?: FakeWhoopOptions;
  /** Days of generated WHOOP data for the member (default 60). */
  days?: number;
  env?: Record<string, string>;
  /** The database to use (it is dropped on close); default: a fresh database on the test run's server. */
  database?: TestDatabase;
}

export async function startEnvironment(options: EnvironmentOptions = {}): Promise<Environment> {
  const db = options.database ?? (await createTestDatabase());
  const limits = unpaced(options.whoop);
  const whoop = await startFakeWhoop(limits.whoop);
  const slack = await startFakeSlack();
  const member = whoop.addMember({ first_name: 'Jo', last_name: 'Tester', email: 'jo@example.com' });
  whoop.generate(member.user_id, { days: options.days ?? 60 });
  const env = { ...fakesEnv(whoop, slack), ...limits.env, ...options.env };
  const config = testConfig(db, env);
  const apps: RunningApp[] = [];
  const app = await startApp(config);
  apps.push(app);
  // PUBLIC_URL must point at the listening app for the OAuth redirect to come back to it.
  const environment: Environment = {
    db,
    whoop,
    slack,
    member,
    env,
    config,
    app,
    async startAnotherApp(extra = {}) {
      const other = await startApp(testConfig(db, { ...env, ...extra }));
      apps.push(other);
      return other;
    },
    connect: (who = member, slackUserId) => {
      const user = slackUserId ?? (who === member ? ALICE : `U0M${who.user_id}`);
      return connect(app.url, whoop, who, user, config.slack.signingSecret ? overHttp(app.url) : overSocket(slack));
    },
    command: (text, fields) => sendCommand(app.url, text, fields),
    async close() {
      for (const running of apps.reverse()) await running.close().catch(() => {});
      await whoop.close();
      await slack.close();
      await db.drop();
    },
  };
  return environment;
}

/** The Slack user of slashCommandBody(). */
export const ALICE = 'U0ALICE001';

/**
 * Starts connecting as `slackUserId` would: `/whoop connect`, open the personal link, press its button. Resolves
 * to WHOOP's authorize URL and the cookie the browser got (the flow is bound to it).
 */
export interface StartedConnect {
  location: string;
  cookie: string;
}

/** Sends `/whoop connect` as `slackUserId` and resolves to the answer's text. */
type AskForLink = (slackUserId: string) => Promise<string>;

/** `/whoop connect` over HTTP, signed with SIGNING_SECRET. */
const overHttp = (baseUrl: string): AskForLink => async (slackUserId) =>
  ((await (await sendCommand(baseUrl, 'connect', { command: '/whoop', user_id: slackUserId })).json()) as { text: string }).text;

/** `/whoop connect` over Socket Mode (an environment without a signing secret). */
const overSocket = (slack: FakeSlack): AskForLink => async (slackUserId) =>
  String((await slack.socket.command('connect', { fields: { command: '/whoop', user_id: slackUserId } })).payload?.text);

export async function startPersonalConnect(
  baseUrl: string,
  slackUserId = ALICE,
  ask = overHttp(baseUrl),
): Promise<StartedConnect> {
  const text = await ask(slackUserId);
  const link = /<(http[^|>]+)\|/.exec(text)?.[1];
  if (!link) throw new Error(`/whoop connect answered without a link: ${text}`);
  const ticket = new URL(link).searchParams.get('ticket')!;
  const page = await fetch(`${baseUrl}/oauth/whoop?ticket=${ticket}`);
  if (page.status !== 200) throw new Error(`the personal link answered ${page.status}`);
  const start = await fetch(`${baseUrl}/oauth/whoop`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ ticket }).toString(),
    redirect: 'manual',
  });
  if (start.status !== 303) throw new Error(`starting the connection answered ${start.status}`);
  const cookie = start.headers.getSetCookie().map((line) => line.split(';')[0]!).join('; ');
  return { location: start.headers.get('location')!, cookie };
}

/** Finishes a flow at WHOOP and back at the callback, in the browser that holds `cookie`. */
export async function finishConnect(
  baseUrl: string,
  whoop: FakeWhoop,
  member: Member,
  started: StartedConnect,
): Promise<Response> {
  const callback = await whoop.approve(started.location, member.user_id);
  // The redirect URI is built from PUBLIC_URL; point it at the app under test.
  const url = new URL(callback);
  return fetch(`${baseUrl}${url.pathname}${url.search}`, { headers: { cookie: started.cookie } });
}

export async function connect(
  baseUrl: string,
  whoop: FakeWhoop,
  member: Member,
  slackUserId = ALICE,
  ask?: AskForLink,
): Promise<Response> {
  return finishConnect(baseUrl, whoop, member, await startPersonalConnect(baseUrl, slackUserId, ask));
}

/**
 * The environment of a service process (the real entry point, started as a person would) pointed at a
 * test database and the fakes; `seedUserId` seeds its token store through WHOOP_REFRESH_TOKEN. The
 * whole-history backfill on connect is off, as in testConfig(), unless a test removes WHOOP_HISTORY_SINCE.
 */
export function serviceEnv(options: {
  db: TestDatabase;
  whoop: FakeWhoop;
  seedUserId: number;
  slack?: FakeSlack;
}): Record<string, string> {
  const { db, whoop, slack } = options;
  return {
    ...db.env,
    ...fakesEnv(whoop, slack),
    WHOOP_REFRESH_TOKEN: whoop.issueGrant(options.seedUserId).refresh_token,
    WHOOP_HISTORY_SINCE: 'off',
  };
}

/** The configuration that points the service at the fakes, as a user points it at WHOOP and Slack. */
export function fakesEnv(whoop: Pick<FakeWhoop, 'url' | 'clientId' | 'clientSecret'>, slack?: FakeSlack): Record<string, string> {
  return {
    WHOOP_API_URL: whoop.url,
    WHOOP_CLIENT_ID: whoop.clientId,
    WHOOP_CLIENT_SECRET: whoop.clientSecret,
    ...(slack
      ? {
        SLACK_API_URL: slack.apiUrl,
        SLACK_BOT_TOKEN: slack.botToken,
        SLACK_SIGNING_SECRET: SIGNING_SECRET,
        // With a bot token, linked members get digests by direct message on the default schedule: the clock must
        // not post one in the middle of a test. A test that wants digests names their schedule.
        DIGEST_DAILY: 'off',
        DIGEST_WEEKLY: 'off',
      }
      : {}),
  };
}

export function slashCommandBody(text: string, fields: Record<string, string> = {}): string {
  return new URLSearchParams({
    token: 'deprecated-verification-token',
    team_id: 'T0FAKE0001',
    team_domain: 'testteam',
    channel_id: 'C0CHANNEL1',
    channel_name: 'health',
    user_id: 'U0ALICE001',
    user_name: 'alice',
    command: '/sync',
    text,
    response_url: 'http://127.0.0.1:9/unused',
    trigger_id: `${Date.now()}.${Math.random().toString(36).slice(2)}`,
    api_app_id: 'A0APP00001',
    ...fields,
  }).toString();
}

export function signedHeaders(body: string, timestamp = Math.floor(Date.now() / 1000), secret = SIGNING_SECRET) {
  return {
    'content-type': 'application/x-www-form-urlencoded',
    'x-slack-request-timestamp': String(timestamp),
    'x-slack-signature': signSlackRequest(secret, timestamp, body),
  };
}

export function sendCommand(baseUrl: string, text: string, fields?: Record<string, string>): Promise<Response> {
  const body = slashCommandBody(text, fields);
  return fetch(`${baseUrl}/slack/commands`, { method: 'POST', headers: signedHeaders(body), body });
}
