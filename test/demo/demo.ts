// `npm run demo`: the real service (src/server.ts, in a process of its own, as `npm start` runs it) connected
// to a simulated WHOOP member (test/fakes/whoop-server.ts: WHOOP's API and OAuth over HTTP) and to a local
// stand-in for Slack that prints what the service posts (test/fakes/slack-server.ts). Nothing of this is
// imported by the service: it only sees an environment pointing it at these servers.
//
// Two places to extend when a feature joins the demo: `serviceEnvironment` (what the service is configured
// with) and `tryNext` (what the person is told to try).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEMO_SIGNING_SECRET } from '../../src/cli/demo-secret.js';
import { startFakeSlack, type CompletedUpload, type FakeSlack, type PostedMessage } from '../fakes/slack-server.js';
import { startFakeWhoop, type FakeWhoop, type Member } from '../fakes/whoop-server.js';
import { compileService, SERVER_ENTRY } from '../support/compiled.js';


/** Days of synthetic history the simulated member has. */
const HISTORY_DAYS = 90;
/** A first start creates the embedded database: give it time on a slow machine. */
const START_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 15_000;
/** Public like the demo's signing secret: the demo listens on loopback and holds synthetic data only. */
const DEMO_DASHBOARD_PASSWORD = 'demo-dashboard';
const DEMO_DIGEST_CHANNEL = 'C0DIGEST';

export interface DemoOptions {
  port: number;
  /** A PostgreSQL database to use instead of the embedded one (it should be a throwaway). */
  databaseUrl?: string | undefined;
  /** Where the stand-in's Slack messages and the demo's own lines go. */
  print?: (line: string) => void;
  /** Slack reaches the service over Socket Mode (SLACK_APP_TOKEN, no signing secret) instead of HTTP. */
  socket?: boolean;
}

export interface Demo {
  url: string;
  /** The demo's own directory: the service's working directory and its DATA_DIR. Deleted on close. */
  directory: string;
  whoop: FakeWhoop;
  slack: FakeSlack;
  member: Member;
  service: ChildProcess;
  tryNext: string[];
  close(): Promise<void>;
}

interface Parts {
  url: string;
  directory: string;
  whoop: FakeWhoop;
  slack: FakeSlack;
  databaseUrl: string | undefined;
  member: Member;
  socket: boolean;
}

/** The service's whole configuration in the demo. */
function serviceEnvironment(parts: Parts): Record<string, string> {
  const { url, directory, whoop, slack, databaseUrl, member, socket } = parts;
  return {
    PORT: new URL(url).port,
    // Loopback only: the demo's signing secret is public.
    HOST: 'localhost',
    PUBLIC_URL: url,
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : { DATA_DIR: join(directory, 'data') }),
    WHOOP_API_URL: whoop.url,
    WHOOP_CLIENT_ID: whoop.clientId,
    WHOOP_CLIENT_SECRET: whoop.clientSecret,
    // Connects the member at start-up, as a person's own grant would; "Connect WHOOP" on / works as well.
    WHOOP_REFRESH_TOKEN: whoop.issueGrant(member.user_id).refresh_token,
    SLACK_API_URL: slack.apiUrl,
    SLACK_BOT_TOKEN: slack.botToken,
    ...(socket ? { SLACK_APP_TOKEN: slack.socket.appToken } : { SLACK_SIGNING_SECRET: DEMO_SIGNING_SECRET }),
    DASHBOARD_PASSWORD: DEMO_DASHBOARD_PASSWORD,
    // The digest a minute or two after start and the weekly report a minute later, so both show soon.
    SLACK_DIGEST_CHANNEL: DEMO_DIGEST_CHANNEL,
    SYNC_TIMEZONE: 'UTC',
    DIGEST_DAILY: dailyAt(new Date(Date.now() + 2 * 60_000)),
    DIGEST_WEEKLY: dailyAt(new Date(Date.now() + 3 * 60_000)),
  };
}

/** A cron expression firing once a day at the minute of `when` (UTC). */
function dailyAt(when: Date): string {
  return `${when.getUTCMinutes()} ${when.getUTCHours()} * * *`;
}

/** What to try once the demo runs, in plain words. */
function tryNext({ url, databaseUrl, socket }: Parts, port: number): string[] {
  const slash = port === 3000 ? 'npm run slash -- 7' : `npm run slash -- --url ${url} 7`;
  const sql = 'SELECT synced_at FROM whoop_cycles ORDER BY synced_at DESC LIMIT 3;';
  return [
    `Open ${url}/ in a browser: what is configured, the URLs to paste into Slack and WHOOP.`,
    `The dashboard: ${url}/dashboard   (password: ${DEMO_DASHBOARD_PASSWORD})`,
    ...(socket
      ? ['Socket Mode: the Slack stand-in sent "/sync 7" over the socket; its ack and the posted result are printed above.']
      : [
          `In a second terminal: ${slash}   (a signed /sync 7; prints "⏳ Syncing last 7 days..." and then the result)`,
          `The same as if typed in a channel: ${slash.replace(' 7', ' --channel C0DEMO 7')}   (the result appears here, posted by the bot)`,
        ]),
    `In two or three minutes the morning digest and the weekly report (with its chart) appear here, posted in #${DEMO_DIGEST_CHANNEL}.`,
    `Metrics: curl ${url}/metrics`,
    databaseUrl
      ? `The data: psql '${databaseUrl}' -c '${sql}'`
      : `The data: ${sql}   (psql to the embedded database at the address of the "database opened" line above)`,
  ];
}

export async function startDemo(options: DemoOptions): Promise<Demo> {
  const print = options.print ?? ((line: string) => console.log(line));
  compileService();
  const directory = await mkdtemp(join(tmpdir(), 'whoop-sync-demo-'));
  const whoop = await startFakeWhoop();
  const slack = await startFakeSlack({
    botToken: 'xoxb-demo-bot-token',
    onMessage: (message: PostedMessage) => print(`[Slack stand-in] message in #${message.channel}:\n  ${message.text.split('\n').join('\n  ')}`),
    onUpload: (upload: CompletedUpload) =>
      print(
        `[Slack stand-in] file in #${upload.channel}: ${upload.files.map((file) => `${file.filename} (${file.bytes.length} bytes)`).join(', ')}` +
          (upload.initialComment ? `\n  ${upload.initialComment.split('\n').join('\n  ')}` : ''),
      ),
  });
  const member = whoop.addMember({ first_name: 'Demo', last_name: 'Member', email: 'demo.member@example.com' });
  whoop.generate(member.user_id, { days: HISTORY_DAYS, seed: 1 });

  const parts: Parts = {
    url: `http://localhost:${options.port}`,
    directory,
    whoop,
    slack,
    databaseUrl: options.databaseUrl,
    member,
    socket: options.socket ?? false,
  };
  // Its working directory is the demo's own, so a .env of the person's is never read; and nothing of the
  // person's environment is passed on, so a DATABASE_URL or a real token there cannot leak into the demo.
  const service = spawn(process.execPath, [SERVER_ENTRY], {
    cwd: directory,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...(process.env.TERM ? { TERM: process.env.TERM } : {}), ...serviceEnvironment(parts) },
    stdio: ['ignore', 'inherit', 'inherit'],
    // Its own process group: Ctrl-C reaches the demo only, which then stops the service once, gracefully.
    detached: true,
  });
  const exited = new Promise<number | null>((resolve) => service.once('exit', (code) => resolve(code)));

  const close = async () => {
    if (service.exitCode === null && service.signalCode === null) {
      service.kill('SIGTERM');
      const timer = setTimeout(() => service.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }
    await whoop.close();
    await slack.close();
    await rm(directory, { recursive: true, force: true });
  };

  try {
    await untilHealthy(parts.url, exited, options.port);
    await untilConnected(parts.url);
    if (parts.socket) await socketCommand(slack, print);
  } catch (error) {
    await close();
    throw error;
  }
  return { url: parts.url, directory, whoop, slack, member, service, tryNext: tryNext(parts, options.port), close };
}

async function untilHealthy(url: string, exited: Promise<number | null>, port: number): Promise<void> {
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exitCode !== undefined) throw new Error(`the service exited (code ${exitCode}) before it answered; is port ${port} taken? (npm run demo -- --port N)`);
    const healthy = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2_000) }).then((response) => response.ok, () => false);
    if (healthy) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`the service did not answer ${url}/healthz within ${START_TIMEOUT_MS / 1000} s`);
}

/** The seed from WHOOP_REFRESH_TOKEN runs in the background after start-up: wait until it has connected the member. */
async function untilConnected(url: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const status = (await fetch(`${url}/status`).then((response) => response.json(), () => undefined)) as { accounts?: { status: string }[] } | undefined;
    if (status?.accounts?.some((account) => account.status === 'active')) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error('the simulated WHOOP member was not connected in time (see the service log above)');
}

/** In Socket Mode there is no request to sign: the stand-in sends a /sync 7 envelope as Slack would. */
async function socketCommand(slack: FakeSlack, print: (line: string) => void): Promise<void> {
  await slack.socket.waitFor(() => slack.socket.connected > 0, 'the Socket Mode connection', 60_000);
  const ack = await slack.socket.command('7', { fields: { channel_id: 'C0DEMO' } });
  const payload = ack.payload as { text?: string } | undefined;
  print(`[Slack stand-in] Socket Mode: sent /sync 7, ack: ${payload?.text ?? '(empty)'}`);
}
