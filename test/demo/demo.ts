// `npm run demo`: the real service (src/server.ts, in a process of its own, as `npm start` runs it) connected
// to a simulated WHOOP member (test/fakes/whoop-server.ts: WHOOP's API and OAuth over HTTP) and to a local
// stand-in for Slack that prints what the service posts (test/fakes/slack-server.ts). Nothing of this is
// imported by the service: it only sees an environment pointing it at these servers.
//
// Two places to extend when a feature joins the demo: `serviceEnvironment` (what the service is configured
// with) and `tryNext` (what the person is told to try).
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { basename, join } from 'node:path';
import pg from 'pg';
import { DEMO_SIGNING_SECRET, DEMO_TEAM_ID } from '../../src/cli/demo-secret.js';
import { startFakeSlack, type CompletedUpload, type FakeSlack, type PostedMessage } from '../fakes/slack-server.js';
import { startFakeWhoop, type FakeWhoop, type Member } from '../fakes/whoop-server.js';
import { compileService, SERVER_ENTRY } from '../support/compiled.js';


/** Days of synthetic history the simulated member has: about two years, fetched on connect. */
export const HISTORY_DAYS = 730;
/** A first start creates the embedded database: give it time on a slow machine. */
const START_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 15_000;
/** Public like the demo's signing secret: the demo listens on loopback and holds synthetic data only. */
const DEMO_DASHBOARD_PASSWORD = 'demo-dashboard';
const DEMO_DIGEST_CHANNEL = 'C0DIGEST';
/** Where scheduled results and the message that a member's history is complete go. */
const DEMO_REPORT_CHANNEL = 'C0REPORTS';
/** Under the demo's directory: the files the bot uploaded to the Slack stand-in. */
const SLACK_FILES = 'slack-files';
/** The service's last lines of output, kept to tell why it stopped. */
const KEPT_LINES = 40;

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
    SLACK_REPORT_CHANNEL: DEMO_REPORT_CHANNEL,
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
function tryNext(parts: Parts, port: number, embeddedPort: number | undefined): string[] {
  const { url, databaseUrl, socket, directory } = parts;
  const slash = port === 3000 ? 'npm run slash -- 7' : `npm run slash -- --url ${url} 7`;
  const sql = 'SELECT synced_at FROM whoop_cycles ORDER BY synced_at DESC LIMIT 3;';
  return [
    `Open ${url}/ in a browser: what is configured, the URLs to paste into Slack and WHOOP.`,
    `The dashboard: ${url}/dashboard   (password: ${DEMO_DASHBOARD_PASSWORD})`,
    `History: the member's two years are being fetched at WHOOP's limit of 100 requests a minute (about 90 seconds); ${url}/status and the dashboard show how far, and a message in #${DEMO_REPORT_CHANNEL} says when it is complete.`,
    ...(socket
      ? ['Socket Mode: the Slack stand-in sent "/sync 7" over the socket; its ack and the posted result are printed above.']
      : [
          `In a second terminal: ${slash}   (a signed /sync 7; prints "⏳ Syncing last 7 days..." and then the result)`,
          `The same as if typed in a channel: ${slash.replace(' 7', ' --channel C0DEMO 7')}   (the result appears here, posted by the bot)`,
        ]),
    `In two or three minutes the morning digest and the weekly report appear here, posted in #${DEMO_DIGEST_CHANNEL}; its chart is saved in ${join(directory, SLACK_FILES)}, and the link printed with it opens it in a browser.`,
    `Metrics: curl ${url}/metrics`,
    databaseUrl
      ? `The data: psql '${databaseUrl}' -c '${sql}'`
      : `The data: PGPASSWORD=$(cat ${join(directory, 'data', 'postgres-password')}) psql -h 127.0.0.1 -p ${embeddedPort ?? '<port of the "database opened" line above>'} -U postgres -c '${sql}'   (user postgres, the password is in that file)`,
  ];
}

export async function startDemo(options: DemoOptions): Promise<Demo> {
  const print = options.print ?? ((line: string) => console.log(line));
  compileService();
  await refuseTakenPort(options.port);
  if (options.databaseUrl) await refuseUsedDatabase(options.databaseUrl);
  const directory = await mkdtemp(join(tmpdir(), 'whoop-sync-demo-'));
  // Run by root, the embedded PostgreSQL server runs as another user (user postgres), who must be able to
  // enter this directory on the way to its DATA_DIR; mkdtemp makes it 0700. Entering, not listing: 0711.
  if (process.getuid?.() === 0) await chmod(directory, 0o711);
  const files = join(directory, SLACK_FILES);
  await mkdir(files);
  const whoop = await startFakeWhoop();
  const slack = await startFakeSlack({
    botToken: 'xoxb-demo-bot-token',
    // The service learns its workspace from auth.test; `npm run slash` sends this one.
    teamId: DEMO_TEAM_ID,
    onMessage: (message: PostedMessage) => print(`[Slack stand-in] message in #${message.channel}:\n  ${message.text.split('\n').join('\n  ')}`),
    onUpload: (upload: CompletedUpload) => void saveUpload(upload, files, print),
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
    stdio: ['ignore', 'inherit', 'pipe'],
    // Its own process group: Ctrl-C reaches the demo only, which then stops the service once, gracefully.
    detached: true,
  });
  // Its log goes straight to the terminal (pretty on a TTY). Its own one-line reasons (start-up failed,
  // invalid configuration) go to stderr: passed through as they come, and the last lines kept.
  const errorLines: string[] = [];
  let partial = '';
  service.stderr!.on('data', (chunk: Buffer) => {
    process.stderr.write(chunk);
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop()!;
    errorLines.push(...lines);
    errorLines.splice(0, Math.max(0, errorLines.length - KEPT_LINES));
  });
  // 'close', not 'exit': its output has been read by then, the reason for a failed start included.
  const exited = new Promise<number | null>((resolve) => service.once('close', (code) => resolve(code)));

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
    await untilHealthy(parts.url, exited, () => serviceFailure(errorLines, parts.databaseUrl));
    await untilConnected(parts.url);
    if (parts.socket) await socketCommand(slack, print);
  } catch (error) {
    await close();
    throw error;
  }
  const embeddedPort = parts.databaseUrl ? undefined : await embeddedServerPort(directory);
  const next = tryNext(parts, options.port, embeddedPort);
  return { url: parts.url, directory, whoop, slack, member, service, tryNext: next, close };
}

/**
 * The simulated WHOOP lives as long as one demo: the grants an earlier demo stored in this database were
 * issued by a simulation that is gone, so its account would look connected and fail its first sync. And
 * WHOOP_REFRESH_TOKEN only seeds an empty token store.
 */
async function refuseUsedDatabase(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  try {
    await client.connect();
    const [row] = (await client.query<{ tokens: string | null }>("SELECT to_regclass('whoop_tokens')::text AS tokens")).rows;
    if (!row?.tokens) return;
    const [count] = (await client.query<{ n: number }>('SELECT count(*)::int AS n FROM whoop_tokens')).rows;
    if (!count?.n) return;
  } catch (error) {
    throw new Error(`cannot use DEMO_DATABASE_URL: ${(error as Error).message}`, { cause: error });
  } finally {
    await client.end().catch(() => {});
  }
  const { host, pathname } = new URL(databaseUrl);
  const name = decodeURIComponent(pathname.slice(1));
  throw new Error(
    `the database ${name} at ${host} (DEMO_DATABASE_URL) holds WHOOP accounts of an earlier run, whose grants only the ` +
      `simulated WHOOP of that run knew. Give the demo an empty database (dropdb ${name} && createdb ${name}, or another name).`,
  );
}

/** Writes a file the bot uploaded into the demo's directory and prints where it is and the stand-in's link. */
async function saveUpload(upload: CompletedUpload, directory: string, print: (line: string) => void): Promise<void> {
  const lines = [];
  for (const file of upload.files) {
    const path = join(directory, `${file.id}-${basename(file.filename)}`);
    await writeFile(path, file.bytes);
    lines.push(`${file.filename} (${file.bytes.length} bytes): open ${file.url} (saved as ${path})`);
  }
  print(
    `[Slack stand-in] file in #${upload.channel}: ${lines.join(', ')}` +
      (upload.initialComment ? `\n  ${upload.initialComment.split('\n').join('\n  ')}` : ''),
  );
}

/** The port of the embedded server, from PostgreSQL's own postmaster.pid (4th line). */
async function embeddedServerPort(directory: string): Promise<number | undefined> {
  const text = await readFile(join(directory, 'data', 'postgres', 'postmaster.pid'), 'utf8').catch(() => '');
  const port = Number(text.split('\n')[3]);
  return Number.isInteger(port) && port > 0 ? port : undefined;
}

/** Why the service stopped: its own one-line reason on stderr; otherwise its log above says. */
function serviceFailure(lines: string[], databaseUrl: string | undefined): string {
  const own = lines.map((line) => /^whoop-sync: (.+)$/.exec(line)?.[1]).findLast(Boolean);
  if (!own) return 'its log above says why';
  // Its advice names the service's settings; the demo sets those itself.
  const demoSettings = databaseUrl
    ? ''
    : ` (the demo keeps its DATA_DIR in a directory of its own under ${tmpdir()}: TMPDIR chooses where; DEMO_DATABASE_URL=postgres://… uses a PostgreSQL server instead)`;
  return `${own}${demoSettings}`;
}

/** A taken port is told before anything starts, rather than guessed from the service's exit. */
async function refuseTakenPort(port: number): Promise<void> {
  const server = createServer();
  const taken = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(true));
    server.listen(port, 'localhost', () => server.close(() => resolve(false)));
  });
  if (taken) throw new Error(`port ${port} is taken by another program: npm run demo -- --port N`);
}

async function untilHealthy(url: string, exited: Promise<number | null>, reason: () => string): Promise<void> {
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exitCode !== undefined) throw new Error(`the service exited (code ${exitCode}) before it answered: ${reason()}`);
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
