// `npm run demo` and `npm run slash` as a person runs them: the demo in one process, the slash tool in
// another with nothing configured but the port, and the service's answers as they print them.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import net from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { LogLevel, WebClient } from '@slack/web-api';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser } from '../support/browser.js';
import { SLASH_CLI_ENTRY } from '../support/compiled.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { startEnvironment } from '../support/environment.js';
import { pngSize } from '../support/png.js';
import { ordinaryAccount } from '../support/server-process.js';

const require = createRequire(import.meta.url);
const TSX_LOADER = pathToFileURL(require.resolve('tsx')).href;
const DEMO = fileURLToPath(new URL('./run.ts', import.meta.url));

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Only what a person's shell would have, plus `env`. */
const shell = (env: Record<string, string>) => ({ PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env });

function slash(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [SLASH_CLI_ENTRY, ...args], { env: shell(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

describe('npm run demo, then npm run slash -- 7', () => {
  let db: TestDatabase;
  let demo: ChildProcess;
  let output = '';
  let port: number;
  const exited = () => new Promise<number | null>((resolve) => (demo.exitCode !== null ? resolve(demo.exitCode) : demo.once('exit', resolve)));

  beforeAll(async () => {
    db = await createTestDatabase();
    port = await freePort();
    // On Postgres runs the demo uses a fresh database there; otherwise its embedded default.
    demo = spawn(process.execPath, ['--import', TSX_LOADER, DEMO, '--port', String(port)], {
      env: shell(db.databaseUrl ? { DEMO_DATABASE_URL: db.databaseUrl } : {}),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    demo.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    demo.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const deadline = Date.now() + 120_000;
    while (!output.includes('demo: Ctrl-C stops everything.')) {
      if (demo.exitCode !== null || Date.now() > deadline) throw new Error(`the demo did not start:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }, 150_000);
  afterAll(async () => {
    if (demo && demo.exitCode === null) {
      demo.kill('SIGKILL');
      await exited();
    }
    await db?.drop();
  });

  it('prints what to try next, with the page, the slash command, /metrics and the SQL check', async () => {
    const url = `http://localhost:${port}`;
    expect(output).toContain(`Open ${url}/ in a browser`);
    expect(output).toContain(`npm run slash -- --url ${url} 7`);
    expect(output).toContain(`curl ${url}/metrics`);
    expect(output).toContain(`The dashboard: ${url}/dashboard   (password: demo-dashboard)`);
    expect(output).toContain('SELECT synced_at FROM whoop_cycles ORDER BY synced_at DESC LIMIT 3;');
    // The service's own start-up line agrees: the member is connected, nothing is missing.
    const deadline = Date.now() + 10_000;
    while (!output.includes('setup complete: nothing is missing') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(output).toContain('setup complete: nothing is missing');
    expect(output).not.toContain('next step:');
  });

  it('answers a signed /sync 7 with the ack and then the result with counts', async () => {
    const { code, stdout } = await slash(['7'], { PORT: String(port) });
    expect(stdout).toContain('ack: ⏳ Syncing last 7 days...');
    expect(stdout).toMatch(/result: ✅ Sync for @U0SLASHCLI done in [\d.]+ s: last 7 days \(.+\), 1 account\ncycles \d+ · recoveries \d+ · sleeps \d+ · workouts \d+/);
    expect(stdout.indexOf('ack:')).toBeLessThan(stdout.indexOf('result:'));
    expect(code).toBe(0);
  });

  // Its timeout is below the default --wait of 120 s: the tool ends once the result is posted, not after waiting.
  it('with --channel, the bot posts the result in that channel, the Slack stand-in prints it and the tool ends', { timeout: 60_000 }, async () => {
    const before = output.length;
    const { code, stdout } = await slash(['--channel', 'C0DEMO', '2'], { PORT: String(port) });
    expect(stdout).toContain('ack: ⏳ Syncing last 2 days...');
    expect(stdout).toContain('The service posted the result in channel C0DEMO.');
    expect(code).toBe(0);
    expect(output.slice(before)).toMatch(/\[Slack stand-in\] message in #C0DEMO:\n {2}✅ Sync for <@U0SLASHCLI> done/);
  });

  it("fetches the member's two years of history on connect, and the dashboard's year is full", { timeout: 300_000 }, async () => {
    const url = `http://localhost:${port}`;
    const deadline = Date.now() + 280_000;
    while (!/message in #C0REPORTS:\n {2}:card_file_box: The whole WHOOP history of Demo Member is stored: back to \d{4}-\d\d-\d\d/.test(output)) {
      if (demo.exitCode !== null || Date.now() > deadline) throw new Error(`no message that the history is complete:\n${output.slice(-3000)}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const oldest = /is stored: back to (\d{4}-\d\d-\d\d)/.exec(output)![1]!;
    expect(Date.now() - Date.parse(oldest)).toBeGreaterThan(700 * 86_400_000);
    // What the demo said the member has is what was stored.
    const said = Number(/member "Demo Member" with (\d+) days of data, connected\./.exec(output)?.[1]);
    expect(Math.abs((Date.now() - Date.parse(oldest)) / 86_400_000 - said)).toBeLessThan(3);
    const status = (await (await fetch(`${url}/status`)).json()) as { history: { collectionsIncomplete: number; text: string } };
    expect(status.history).toMatchObject({ collectionsIncomplete: 0, text: 'every history complete' });
    // The operator's dashboard, as a browser signs in: its 365-day charts hold a day for (nearly) every day.
    const cookieOf = (response: Response) => response.headers.getSetCookie().find((line) => line.startsWith('whoop_sync_session='))!.split(';')[0]!;
    const form = await fetch(`${url}/login`);
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1]!;
    const login = await fetch(`${url}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: cookieOf(form) },
      body: new URLSearchParams({ _csrf: csrf, password: 'demo-dashboard' }).toString(),
    });
    expect(login.status).toBe(303);
    const cookie = cookieOf(login);
    const overview = (await (await fetch(`${url}/dashboard/api/overview`, { headers: { cookie } })).json()) as { accounts: { userId: string }[] };
    const charts = await fetch(`${url}/dashboard/api/members/${overview.accounts[0]!.userId}/charts?range=365`, { headers: { cookie } });
    expect(charts.status).toBe(200);
    expect(((await charts.json()) as { days: number }).days).toBeGreaterThanOrEqual(360);
  });

  it('says so when the signing secret is wrong', async () => {
    const { code, stderr } = await slash(['7'], { PORT: String(port), SLACK_SIGNING_SECRET: 'not-the-demo-secret' });
    expect(stderr).toContain('whoop-sync refused the signature (request signature refused (signature_mismatch))');
    expect(code).toBe(1);
  });

  it('stops everything on Ctrl-C and deletes its directory', async () => {
    const directory = /its data in (\S+) \(deleted/.exec(output)![1]!;
    expect(existsSync(directory)).toBe(true);
    demo.kill('SIGINT');
    expect(await exited()).toBe(0);
    expect(existsSync(directory)).toBe(false);
    expect(output).toContain('"msg":"database closed"');
    const { code, stderr } = await slash(['7'], { PORT: String(port) });
    expect(stderr).toContain(`cannot reach whoop-sync at http://localhost:${port}: connection refused`);
    expect(code).toBe(1);
  });

  it('refuses to run again on that database, whose simulated WHOOP grants ended with the first demo', async () => {
    const again = spawn(process.execPath, ['--import', TSX_LOADER, DEMO, '--port', String(port)], {
      env: shell({ DEMO_DATABASE_URL: db.databaseUrl }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let text = '';
    again.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
    again.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
    expect(await new Promise((resolve) => again.once('exit', resolve))).toBe(1);
    expect(text).toMatch(/demo: the database whoop_sync_test_\w+ at \S+ \(DEMO_DATABASE_URL\) holds WHOOP accounts of an earlier run/);
    expect(text).toContain('Give the demo an empty database');
    expect(text).not.toContain('connected');
  });
});

describe('npm run slash against a service without a signing secret', () => {
  it('says that SLACK_SIGNING_SECRET must be set there', async () => {
    const env = await startEnvironment({ days: 1, env: { SLACK_SIGNING_SECRET: '' } });
    try {
      const { code, stderr } = await slash(['--url', env.app.url, '7'], {});
      expect(stderr).toContain("whoop-sync answered 503 (SLACK_SIGNING_SECRET is not configured): set SLACK_SIGNING_SECRET in the service's environment");
      expect(code).toBe(1);
    } finally {
      await env.close();
    }
  });
});

describe('npm run demo -- --socket', () => {
  it('runs with Slack over Socket Mode: the stand-in sends /sync 7 and prints its ack and the ✅ result', async () => {
    const db = await createTestDatabase();
    const lines: string[] = [];
    const { startDemo } = await import('./demo.js');
    const print = (line: string) => lines.push(line);
    const demo = await startDemo({ port: await freePort(), databaseUrl: db.databaseUrl, socket: true, print });
    try {
      expect(lines.join('\n')).toContain('[Slack stand-in] Socket Mode: sent /sync 7, ack: ⏳ Syncing last 7 days...');
      const [result] = await demo.slack.waitForMessages(1, 60_000);
      expect(result!.text).toMatch(/^✅ Sync for <@U0ALICE001> done in [\d.]+ s: last 7 days/);
      expect(demo.tryNext.join('\n')).toContain('Socket Mode: the Slack stand-in sent "/sync 7"');
      // A file the bot uploads (the weekly report's chart) is saved where the demo says, and the link printed
      // with it opens it in a browser.
      const chart = readFileSync(new URL('../../docs/dashboard.png', import.meta.url));
      const web = new WebClient(demo.slack.botToken, { slackApiUrl: demo.slack.apiUrl, logLevel: LogLevel.ERROR });
      await web.filesUploadV2({ channel_id: 'C0DIGEST', file: chart, filename: 'weekly.png', initial_comment: 'Weekly report' });
      const directory = /saved in (\S+slack-files)/.exec(demo.tryNext.join('\n'))![1]!;
      const deadline = Date.now() + 10_000;
      while (!lines.some((line) => line.includes('[Slack stand-in] file in #C0DIGEST')) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      const printed = lines.find((line) => line.includes('[Slack stand-in] file in #C0DIGEST'))!;
      const [, link, saved] = /weekly\.png \(\d+ bytes\): open (http:\S+) \(saved as (\S+)\)/.exec(printed)!;
      expect(saved!.startsWith(`${directory}/`)).toBe(true);
      expect(readFileSync(saved!)).toEqual(chart);
      const browser = await launchBrowser();
      try {
        const page = await browser.context.newPage();
        const response = await page.goto(link!);
        expect(response?.headers()['content-type']).toBe('image/png');
        const width = await page.evaluate('document.images[0]?.naturalWidth');
        expect(width).toBe(pngSize(chart).width);
      } finally {
        await browser.close();
      }
      // The slash tool has nothing to sign for there, and says so rather than asking for a signing secret.
      const { code, stderr } = await slash(['--url', demo.url, '7'], {});
      expect(stderr).toContain('whoop-sync answered 503 (SLACK_SIGNING_SECRET is not configured; slash commands arrive over Socket Mode (SLACK_APP_TOKEN))');
      expect(stderr).toContain('in `npm run demo -- --socket` the Slack stand-in sends one itself');
      expect(stderr).not.toContain("set SLACK_SIGNING_SECRET in the service's environment");
      expect(code).toBe(1);
    } finally {
      await demo.close();
      await db.drop();
    }
  }, 180_000);
});

const account = process.getuid?.() === 0 ? ordinaryAccount() : undefined;
const runners = [
  { who: process.getuid?.() === 0 ? 'root' : 'this user', prefix: [] as string[] },
  ...(account ? [{ who: `user ${account.name}`, prefix: ['setpriv', `--reuid=${account.uid}`, `--regid=${account.gid}`, '--clear-groups'] }] : []),
];

describe.each(runners)('npm run demo as the README says (no DEMO_DATABASE_URL: the embedded database), as $who', ({ prefix }) => {
  it('starts, answers npm run slash -- 7, tells how to reach its database, stops and deletes its directory', async () => {
    const port = await freePort();
    const command = [...prefix, process.execPath, '--import', TSX_LOADER, DEMO, '--port', String(port)];
    const demo = spawn(command[0]!, command.slice(1), { env: shell({}), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    demo.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    demo.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => demo.once('exit', resolve));
    try {
      const deadline = Date.now() + 120_000;
      while (!output.includes('demo: Ctrl-C stops everything.')) {
        if (demo.exitCode !== null || Date.now() > deadline) throw new Error(`the demo did not start:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(output).toContain('"database":"embedded"');
      const { code, stdout } = await slash(['--url', `http://localhost:${port}`, '7'], {});
      expect(stdout).toMatch(/result: ✅ Sync for @U0SLASHCLI done/);
      expect(code).toBe(0);
      // Tip 7 is a command that works: the password file it names opens the embedded database.
      const tip = /PGPASSWORD=\$\(cat (\S+)\) psql -h 127\.0\.0\.1 -p (\d+) -U postgres/.exec(output);
      expect(tip).not.toBeNull();
      const client = new pg.Client({ host: '127.0.0.1', port: Number(tip![2]), user: 'postgres', password: readFileSync(tip![1]!, 'utf8').trim(), database: 'postgres' });
      await client.connect();
      try {
        expect((await client.query('SELECT count(*)::int AS n FROM whoop_cycles')).rows[0].n).toBeGreaterThan(0);
      } finally {
        await client.end();
      }
      const directory = /its data in (\S+) \(deleted/.exec(output)![1]!;
      demo.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(existsSync(directory)).toBe(false);
    } finally {
      if (demo.exitCode === null) demo.kill('SIGKILL');
    }
  }, 180_000);
});

describe('npm run demo when it cannot start', () => {
  it('says that the port is taken, and otherwise passes on the service\'s own reason', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, 'localhost', resolve));
    const { port } = taken.address() as net.AddressInfo;
    const run = async (args: string[], env: Record<string, string>) => {
      const demo = spawn(process.execPath, ['--import', TSX_LOADER, DEMO, ...args], { env: shell(env), stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      demo.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      demo.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      return { code: await new Promise((resolve) => demo.once('exit', resolve)), output };
    };
    try {
      const busy = await run(['--port', String(port)], {});
      expect(busy.code).toBe(1);
      expect(busy.output).toContain(`demo: port ${port} is taken by another program: npm run demo -- --port N`);
    } finally {
      taken.close();
    }
    if (process.getuid?.() !== 0) return;
    // As root with TMPDIR in a directory the server's user cannot enter: the service's own reason, and what
    // applies to the demo (not DATA_DIR or DATABASE_URL, which the demo sets itself).
    const closed = await mkdtemp(join(tmpdir(), 'whoop-sync-closed-'));
    try {
      const refused = await run(['--port', String(await freePort())], { TMPDIR: closed });
      expect(refused.code).toBe(1);
      expect(refused.output).toMatch(
        /demo: the service exited \(code 1\) before it answered: start-up failed: whoop-sync runs as root .* who cannot enter \S+whoop-sync-closed-\w+ on the way to DATA_DIR .*\(the demo keeps its DATA_DIR in a directory of its own under \S+: TMPDIR chooses where; DEMO_DATABASE_URL=postgres:\/\/… uses a PostgreSQL server instead\)/,
      );
      expect(refused.output).not.toContain('is port');
    } finally {
      await rm(closed, { recursive: true, force: true });
    }
  }, 120_000);
});
