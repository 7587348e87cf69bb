// `npm run demo` and `npm run slash` as a person runs them: the demo in one process, the slash tool in
// another with nothing configured but the port, and the service's answers as they print them.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SLASH_CLI_ENTRY } from '../support/compiled.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { startEnvironment } from '../support/environment.js';

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

  it('with --channel, the bot posts the result in that channel and the Slack stand-in prints it', async () => {
    const before = output.length;
    const { code, stdout } = await slash(['--channel', 'C0DEMO', '--wait', '5', '2'], { PORT: String(port) });
    expect(stdout).toContain('ack: ⏳ Syncing last 2 days...');
    expect(stdout).toContain('No result came back here: look in channel C0DEMO');
    expect(code).toBe(0);
    expect(output.slice(before)).toMatch(/\[Slack stand-in\] message in #C0DEMO:\n {2}✅ Sync for <@U0SLASHCLI> done/);
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
    } finally {
      await demo.close();
      await db.drop();
    }
  }, 180_000);
});
