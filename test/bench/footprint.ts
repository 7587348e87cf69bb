// Benchmark 3, the footprint: the real entry point (`node --import tsx src/server.ts`, as `npm start`)
// started as a child process on the embedded database (first start into an empty DATA_DIR, then a reopen
// of the same directory) and on Postgres (a fresh database, dropped afterwards). Measured: time from spawn
// to the first 200 from GET /readyz, and the resident set size after the server has idled ~2 s.
// Baseline: a bare `node -e` Fastify server started the same way.
import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServerProcess } from '../support/server-process.js';
import { adminQuery, assertLoopback, checkInterrupted, interruption, onCleanup, postgresBaseUrl, postgresVersion, rssMiB, round, scoped, sleep, withTimeout } from './util.js';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface FootprintOptions {
  idleMs: number;
  startTimeoutMs: number;
}

export interface FootprintRow {
  name: string;
  skipped?: string;
  readyMs?: number;
  idleRssMiB?: number;
  peakRssMiB?: number;
  readyRatio?: number;
  rssRatio?: number;
}

export interface FootprintResult {
  rows: FootprintRow[];
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
  const server = startServerProcess(env, REPO_ROOT);
  return { child: server.child, output: server.output, stop: () => stopChild(server.child) };
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

/** Spawns, waits for the first 200 from /readyz, idles, reads the RSS, stops. */
async function measure(name: string, start: () => Spawned, options: FootprintOptions): Promise<FootprintRow> {
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
    await sleep(options.idleMs);
    const idleRssMiB = await rssMiB(server.child.pid!);
    const status = await readFile(`/proc/${server.child.pid}/status`, 'utf8');
    const peakRssMiB = Number(/^VmHWM:\s*(\d+)/m.exec(status)?.[1] ?? Number.NaN) / 1024;
    await server.stop();
    return { name, readyMs: round(readyMs, 0), idleRssMiB: round(idleRssMiB, 1), peakRssMiB: round(peakRssMiB, 1) };
  });
}

export async function footprintBenchmark(options: FootprintOptions, progress: (line: string) => void): Promise<FootprintResult> {
  const rows: FootprintRow[] = [];
  const problems: string[] = [];
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

  await scoped(async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'whoop-sync-bench-'));
    onCleanup('footprint DATA_DIR', () => rm(dataDir, { recursive: true, force: true }));
    await attempt('whoop-sync pglite, first start', () => measure('whoop-sync pglite, first start', () => spawnService({ DATA_DIR: dataDir }), options));
    await attempt('whoop-sync pglite, reopen', () => measure('whoop-sync pglite, reopen', () => spawnService({ DATA_DIR: dataDir }), options));
  });

  const base = postgresBaseUrl();
  const pgName = 'whoop-sync postgres, fresh database';
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
      await attempt(pgName, () => measure(pgName, () => spawnService({ DATABASE_URL: url.toString(), DATA_DIR: dataDir }), options));
    });
  }

  const bare = rows[0];
  for (const row of rows) {
    if (row.readyMs === undefined || !bare?.readyMs || !bare.idleRssMiB || row.idleRssMiB === undefined) continue;
    row.readyRatio = round(row.readyMs / bare.readyMs, 1);
    row.rssRatio = round(row.idleRssMiB / bare.idleRssMiB, 1);
  }
  return { rows, problems };
}
