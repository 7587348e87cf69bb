// Benchmark 3, the footprint: the real entry point as `npm start` runs it (compiled once with
// `tsc -b tsconfig.build.json`, then `node dist/server.js`) started as a child process, on the embedded
// PostgreSQL server (first start into an empty DATA_DIR, a
// restart, a restart after a SIGKILL) and with DATABASE_URL (a fresh database on the Postgres server).
// Measured: time from spawn to the first 200 from GET /readyz; PSS of the service's whole process tree
// (node and the postgres processes it started) after ~2 s idle, and its peak, sampled every 100 ms, during
// a `/sync 365` against the fake WHOOP. Baseline: a bare `node -e` Fastify server started the same way.
import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startFakeSlack, type FakeSlack } from '../fakes/slack-server.js';
import { startFakeWhoop, type FakeWhoop } from '../fakes/whoop-server.js';
import { compileService, REPO_ROOT, SERVER_ENTRY } from '../support/compiled.js';
import { fakesEnv, sendCommand } from '../support/environment.js';
import { adminQuery, assertLoopback, checkInterrupted, interruption, onCleanup, postgresBaseUrl, postgresVersion, round, scoped, sleep, withTimeout } from './util.js';


export interface FootprintOptions {
  idleMs: number;
  startTimeoutMs: number;
  /** The guard on the embedded default's idle PSS with the MCP server enabled. */
  maxMcpIdlePssMiB: number;
}

export interface FootprintRow {
  name: string;
  skipped?: string;
  readyMs?: number;
  /** Processes in the tree when idle (node, plus the embedded server's). */
  processes?: number;
  idlePssMiB?: number;
  /** Peak PSS of the tree during /sync 365. */
  syncPeakPssMiB?: number;
  syncMs?: number;
  readyRatio?: number;
  pssRatio?: number;
}

export interface FootprintResult {
  rows: FootprintRow[];
  /** The embedded default's idle PSS with MCP_TOKEN set, after MCP calls, against the guard. */
  mcp?: { idlePssMiB: number; limitMiB: number; met: boolean };
  problems: string[];
}

interface Spawned {
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

// The baseline server: Fastify's hello world with the same probe path and the same log line.
const BARE_SERVER = `
const app = require('fastify')({ logger: true });
app.get('/readyz', async () => ({ status: 'ready' }));
app.listen({ host: process.env.HOST, port: Number(process.env.PORT) }).catch((error) => { console.error(error); process.exit(1); });
process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
`;

function spawnBare(withTsx: boolean): Spawned {
  const args = withTsx ? ['--import', 'tsx', '-e', BARE_SERVER] : ['-e', BARE_SERVER];
  // The same environment startServerProcess gives the service: only what a person's shell would have.
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', HOST: '127.0.0.1', PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output, stop: () => stopChild(child) };
}

function spawnService(env: Record<string, string>): Spawned {
  // Only what a person's shell would have, as test/support/server-process.ts gives the service in tests.
  const child = spawn(process.execPath, [SERVER_ENTRY], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output, stop: () => stopChild(child) };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  try {
    await withTimeout(exited, 15_000, `process ${child.pid} to stop`);
  } catch {
    child.kill('SIGKILL');
    await exited;
  }
}

/** Pids of `root` and all its descendants (Linux /proc). */
async function processTree(root: number): Promise<number[]> {
  const parents = new Map<number, number>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const status = await readFile(`/proc/${entry}/status`, 'utf8').catch(() => '');
    const ppid = /^PPid:\s+(\d+)/m.exec(status)?.[1];
    if (ppid) parents.set(Number(entry), Number(ppid));
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i++) for (const [pid, ppid] of parents) if (ppid === tree[i]) tree.push(pid);
  return tree;
}

/** PSS of the process tree in MiB: shared pages (postgres' shared buffers, code) counted once overall. */
async function treePss(root: number): Promise<{ mib: number; processes: number }> {
  const pids = await processTree(root);
  let kb = 0;
  for (const pid of pids) {
    const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => '');
    kb += Number(/^Pss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0);
  }
  return { mib: kb / 1024, processes: pids.length };
}

interface Fakes {
  whoop: FakeWhoop;
  slack: FakeSlack;
  userId: number;
}

interface MeasureOptions extends FootprintOptions {
  /** Seed a WHOOP grant and measure a /sync 365. */
  fakes?: Fakes;
  /** How the service is stopped afterwards (SIGKILL leaves the embedded server orphaned). */
  stopWith?: 'SIGTERM' | 'SIGKILL';
  /** Runs once the service is ready, before the idle wait (e.g. MCP calls that load the SDK's code paths). */
  beforeIdle?: (url: string) => Promise<void>;
}

/** Spawns, waits for the first 200 from /readyz, idles, reads the tree's PSS, optionally syncs, stops. */
async function measure(name: string, start: () => Spawned, options: MeasureOptions): Promise<FootprintRow> {
  return scoped(async () => {
    checkInterrupted();
    const started = performance.now();
    const server = start();
    onCleanup(`${name} process`, () => server.stop());
    const deadline = Date.now() + options.startTimeoutMs;
    let url: string | undefined;
    while (!url) {
      url = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(server.output())?.[1];
      if (url) break;
      if (server.child.exitCode !== null) throw new Error(`${name} exited with ${server.child.exitCode}:\n${server.output().slice(-2000)}`);
      checkInterrupted();
      if (Date.now() > deadline) throw new Error(`${name} did not listen within ${options.startTimeoutMs} ms:\n${server.output().slice(-2000)}`);
      await sleep(2);
    }
    assertLoopback(url, `${name} listening address`);
    for (;;) {
      const status = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2_000) }).then(
        async (response) => {
          await response.body?.cancel();
          return response.status;
        },
        () => 0,
      );
      if (status === 200) break;
      if (Date.now() > deadline) throw new Error(`${name}: /readyz did not answer 200 within ${options.startTimeoutMs} ms`);
      await sleep(2);
    }
    const readyMs = performance.now() - started;
    await options.beforeIdle?.(url);
    await sleep(options.idleMs);
    const idle = await treePss(server.child.pid!);
    const row: FootprintRow = {
      name,
      readyMs: round(readyMs, 0),
      processes: idle.processes,
      idlePssMiB: round(idle.mib, 1),
    };
    if (options.fakes) {
      const { slack } = options.fakes;
      slack.reset();
      const syncStarted = performance.now();
      const ack = await sendCommand(url, '365');
      await ack.body?.cancel();
      let peak = idle.mib;
      let done = false;
      const result = slack.waitForMessages(1, options.startTimeoutMs * 5).finally(() => (done = true));
      while (!done) {
        peak = Math.max(peak, (await treePss(server.child.pid!)).mib);
        await sleep(100);
      }
      const [message] = await result;
      if (!message?.text.startsWith('✅')) throw new Error(`${name}: /sync 365 did not succeed: ${message?.text}`);
      row.syncPeakPssMiB = round(peak, 1);
      row.syncMs = round(performance.now() - syncStarted, 0);
    }
    if (options.stopWith === 'SIGKILL') {
      const exited = new Promise((resolve) => server.child.once('exit', resolve));
      server.child.kill('SIGKILL');
      await exited;
    } else {
      await server.stop();
    }
    return row;
  });
}

interface ToolResult {
  isError?: boolean;
  content: { text: string }[];
}

const MCP_TOKEN = 'footprint-mcp-token-0123456789abcdef-01234';

/** What an assistant does first: initialize, list the tools, ask two questions. */
async function callMcp(url: string): Promise<void> {
  const client = new Client({ name: 'whoop-sync-bench', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${MCP_TOKEN}` } } }));
  try {
    await client.listTools();
    for (const [name, args] of [['trend', { metric: 'hrv_ms', days: 365 }], ['correlate', { x: 'day_strain', y: 'recovery_pct', lag_days: 1, days: 365 }]] as const) {
      const result = (await client.callTool({ name, arguments: args })) as ToolResult;
      if (result.isError) throw new Error(`${name} answered a tool error: ${result.content[0]?.text}`);
    }
  } finally {
    await client.close();
  }
}

export async function footprintBenchmark(
  options: FootprintOptions,
  progress: (line: string) => void,
): Promise<FootprintResult> {
  const rows: FootprintRow[] = [];
  const problems: string[] = [];
  const result: FootprintResult = { rows, problems };
  const attempt = async (name: string, fn: () => Promise<FootprintRow>) => {
    if (interruption.requested) return;
    progress(`footprint: ${name}`);
    try {
      rows.push(await fn());
    } catch (error) {
      problems.push(`footprint ${name}: ${(error as Error).message}`);
      rows.push({ name, skipped: 'error' });
    }
  };

  await attempt('bare Fastify (node -e)', () => measure('bare Fastify (node -e)', () => spawnBare(false), options));
  await attempt('bare Fastify (node --import tsx -e)', () => measure('bare Fastify (node --import tsx -e)', () => spawnBare(true), options));
  compileService();
  // What a restart costs before the service's own start: npm start's check that dist/ is current.
  const checkStarted = performance.now();
  compileService();
  rows.push({ name: 'npm start: up-to-date check (tsc -b)', readyMs: Math.round(performance.now() - checkStarted) });

  const whoop = await startFakeWhoop();
  onCleanup('footprint fake WHOOP', () => whoop.close());
  const slack = await startFakeSlack();
  onCleanup('footprint fake Slack', () => slack.close());
  const member = whoop.addMember({ first_name: 'Footprint' });
  whoop.generate(member.user_id, { days: 365 });
  const fakes: Fakes = { whoop, slack, userId: member.user_id };
  const seeded = (env: Record<string, string>) => ({
    ...env,
    ...fakesEnv(whoop, slack),
    WHOOP_REFRESH_TOKEN: whoop.issueGrant(member.user_id).refresh_token,
  });

  await scoped(async () => {
    const root = await mkdtemp(join(tmpdir(), 'whoop-sync-bench-'));
    await chmod(root, 0o755); // run as root, the server's own user must reach DATA_DIR
    onCleanup('footprint DATA_DIR', () => rm(root, { recursive: true, force: true }));
    const env = { DATA_DIR: join(root, 'data') };
    await attempt('embedded, first start', () => measure('embedded, first start', () => spawnService({ ...env, ...fakesEnv(whoop, slack) }), options));
    await attempt('embedded, restart', () => measure('embedded, restart', () => spawnService({ ...env, ...fakesEnv(whoop, slack) }), { ...options, stopWith: 'SIGKILL' }));
    await attempt('embedded, restart after SIGKILL, /sync 365', () =>
      measure('embedded, restart after SIGKILL, /sync 365', () => spawnService(seeded(env)), { ...options, fakes }),
    );
    const mcpName = 'embedded, restart, MCP_TOKEN set (tools/list, trend 365 d, correlate before idling)';
    await attempt(mcpName, () =>
      measure(mcpName, () => spawnService({ ...env, ...fakesEnv(whoop, slack), MCP_TOKEN }), {
        ...options,
        beforeIdle: callMcp,
      }),
    );
    const row = rows.at(-1);
    if (row?.name === mcpName && row.idlePssMiB !== undefined) {
      const limitMiB = options.maxMcpIdlePssMiB;
      result.mcp = { idlePssMiB: row.idlePssMiB, limitMiB, met: row.idlePssMiB <= limitMiB };
    }
  });

  const base = postgresBaseUrl();
  const pgName = 'DATABASE_URL, fresh database, /sync 365';
  assertLoopback(base, 'the Postgres URL');
  if (!(await postgresVersion(base))) {
    rows.push({ name: pgName, skipped: 'skipped: no Postgres' });
  } else {
    await scoped(async () => {
      const database = `whoop_sync_bench_${process.pid}_${randomBytes(4).toString('hex')}`;
      await adminQuery(base, `CREATE DATABASE "${database}"`);
      onCleanup(`database ${database}`, () => adminQuery(base, `DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`));
      const url = new URL(base);
      url.pathname = `/${database}`;
      const dataDir = await mkdtemp(join(tmpdir(), 'whoop-sync-bench-'));
      onCleanup('footprint DATA_DIR', () => rm(dataDir, { recursive: true, force: true }));
      await attempt(pgName, () =>
        measure(pgName, () => spawnService(seeded({ DATABASE_URL: url.toString(), DATA_DIR: dataDir })), {
          ...options,
          fakes,
        }),
      );
    });
  }

  const bare = rows[0];
  for (const row of rows) {
    if (row.readyMs === undefined || !bare?.readyMs || !bare.idlePssMiB || row.idlePssMiB === undefined) continue;
    row.readyRatio = round(row.readyMs / bare.readyMs, 1);
    row.pssRatio = round(row.idlePssMiB / bare.idlePssMiB, 1);
  }
  return result;
}
