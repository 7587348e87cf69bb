// The service's own embedded PostgreSQL server, as a user meets it: the real entry point in a child
// process with no DATABASE_URL, each case on its own DATA_DIR.
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive } from '../../src/util/processes.js';
import { runSyncCli, startServerProcess, type ServerProcess } from '../support/server-process.js';
import { until } from '../support/until.js';

const READY_MS = 90_000;

async function postmaster(dataDir: string): Promise<{ pid: number; port: number; listen: string }> {
  const lines = (await readFile(join(dataDir, 'postgres', 'postmaster.pid'), 'utf8')).split('\n');
  return { pid: Number(lines[0]), port: Number(lines[3]), listen: lines[5]!.trim() };
}

/** Pids of the processes whose parent is `pid` (Linux). */
async function children(pid: number): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const status = await readFile(`/proc/${entry}/status`, 'utf8').catch(() => '');
    if (new RegExp(`^PPid:\\s+${pid}$`, 'm').test(status)) found.push(Number(entry));
  }
  return found;
}

async function ready(server: ServerProcess): Promise<string> {
  const url = await server.listening(READY_MS);
  expect((await fetch(`${url}/readyz`)).status).toBe(200);
  return url;
}

describe('the embedded PostgreSQL server', { timeout: 4 * READY_MS }, () => {
  let root: string;
  let dataDir: string;
  const env = () => ({ DATA_DIR: dataDir });
  let running: ServerProcess | undefined;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'whoop-sync-embedded-'));
    await chmod(root, 0o755); // run as root, the server's own user must reach DATA_DIR
    dataDir = join(root, 'data');
  });
  afterAll(async () => {
    await running?.stop('SIGKILL');
    const info = await postmaster(dataDir).catch(() => undefined);
    if (info && isAlive(info.pid)) process.kill(info.pid, 'SIGINT');
    await rm(root, { recursive: true, force: true });
  });

  it('is created on first start: loopback only, password authentication with a 0600 password file, fsync on', async () => {
    running = startServerProcess(env());
    await ready(running);
    expect(running.output()).toMatch(/"database":"embedded"/);
    const info = await postmaster(dataDir);
    expect(info.listen).toBe('127.0.0.1');
    const passwordFile = join(dataDir, 'postgres-password');
    expect((await stat(passwordFile)).mode & 0o777).toBe(0o600);
    const password = (await readFile(passwordFile, 'utf8')).trim();

    const wrong = new pg.Client({ host: '127.0.0.1', port: info.port, user: 'postgres', password: 'wrong', database: 'postgres' });
    await expect(wrong.connect()).rejects.toThrow(/password authentication failed/);
    const client = new pg.Client({ host: '127.0.0.1', port: info.port, user: 'postgres', password, database: 'postgres' });
    await client.connect();
    try {
      expect((await client.query('SHOW fsync')).rows[0].fsync).toBe('on');
    } finally {
      await client.end();
    }
    if (process.getuid?.() === 0) {
      // PostgreSQL refuses to run as root: the server runs as an unprivileged user.
      const status = await readFile(`/proc/${info.pid}/status`, 'utf8');
      expect(Number(/^Uid:\s+(\d+)/m.exec(status)![1])).not.toBe(0);
    }
  });

  it('serves `npm run sync` while the service runs, on the same server, and keeps running after it', async () => {
    const before = await postmaster(dataDir);
    const password = (await readFile(join(dataDir, 'postgres-password'), 'utf8')).trim();
    // The worker is the session holding the worker lock (an advisory lock).
    const workers = async () => {
      const client = new pg.Client({ host: '127.0.0.1', port: before.port, user: 'postgres', password, database: 'postgres' });
      await client.connect();
      try {
        return (await client.query(`SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted`)).rows as { pid: number }[];
      } finally {
        await client.end();
      }
    };
    await until(async () => (await workers()).length === 1, 'the service to become the worker');
    const service = await workers();
    const cli = await runSyncCli(['--days', '1'], env());
    expect(cli.stderr).not.toMatch(/start-up failed|in use/);
    expect(cli.stdout + cli.stderr).toMatch(/account/i);
    expect((await postmaster(dataDir)).pid).toBe(before.pid);
    expect(isAlive(before.pid)).toBe(true);
    const url = await running!.listening();
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    // The CLI shared a server the service started, and its run was executed by the service's worker (whose
    // step lock, a second advisory lock, may be held a moment longer while the step finishes).
    await until(async () => (await workers()).length === 1, 'the worker to finish its step');
    expect(await workers()).toEqual(service);
  });

  it('refuses a second service on the same DATA_DIR with one line naming the first, which keeps working', async () => {
    const first = await running!.listening();
    const second = startServerProcess(env());
    const { code } = await second.exited;
    expect(code).toBe(1);
    const pid = running!.child.pid;
    expect(second.output().trim()).toBe(
      `whoop-sync: start-up failed: the data directory ${dataDir} is in use by process ${pid} (another whoop-sync): stop that one first, or give this one a DATA_DIR of its own.`,
    );
    expect((await fetch(`${first}/readyz`)).status).toBe(200);
    const status = await fetch(`${first}/status`);
    expect(status.status).toBe(200);
  });

  it('starts again after the service was killed with SIGKILL (the orphaned server is replaced)', async () => {
    const orphan = await postmaster(dataDir);
    await running!.stop('SIGKILL');
    expect(isAlive(orphan.pid)).toBe(true); // PostgreSQL outlives its parent
    running = startServerProcess(env());
    await ready(running);
    expect(running.output()).toContain('database schema is up to date');
    expect(isAlive(orphan.pid)).toBe(false);
  });

  it('leaves no postgres process behind after a clean stop', async () => {
    const info = await postmaster(dataDir);
    const backends = await children(info.pid);
    expect(backends.length).toBeGreaterThan(0);
    const { code } = await running!.stop('SIGTERM');
    running = undefined;
    expect(code).toBe(0);
    expect(isAlive(info.pid)).toBe(false);
    expect(backends.filter(isAlive)).toEqual([]);
    await expect(stat(join(dataDir, 'postgres', 'postmaster.pid'))).rejects.toThrow();
  });

  it('reopens the same database on the next start (migrations recorded before are still there)', async () => {
    running = startServerProcess(env());
    await ready(running);
    expect(running.output()).toContain('database schema is up to date');
    expect((await running.stop('SIGTERM')).code).toBe(0);
    running = undefined;
  });
});

describe('a DATA_DIR of the former PGlite default', { timeout: READY_MS }, () => {
  it('is refused with one clear message and left untouched', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'whoop-sync-pglite-'));
    try {
      // What PGlite wrote: a PostgreSQL data directory straight in DATA_DIR, and the service's pid lock.
      await writeFile(join(dataDir, 'PG_VERSION'), '17\n');
      await mkdir(join(dataDir, 'base', '1'), { recursive: true });
      await writeFile(join(dataDir, 'base', '1', '1259'), 'x'.repeat(100));
      await writeFile(join(dataDir, 'whoop-sync.pid'), '123\n');
      const before = (await readdir(dataDir, { recursive: true })).sort();
      const server = startServerProcess({ DATA_DIR: dataDir });
      const { code } = await server.exited;
      expect(code).toBe(1);
      const lines = server.output().trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^whoop-sync: start-up failed: DATA_DIR .* holds the embedded PGlite database of an earlier whoop-sync version/);
      expect(lines[0]).toContain('/whoop connect');
      expect(lines[0]).toContain('/sync 365');
      expect((await readdir(dataDir, { recursive: true })).sort()).toEqual(before);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe.runIf(process.getuid?.() === 0)('run by root, with DATA_DIR below a directory only root may enter', { timeout: READY_MS }, () => {
  it('is refused with one message naming that directory and the ways out, and creates no database', async () => {
    // A clone under /root: the server runs as another user, who cannot get through a 0700 directory.
    const closed = await mkdtemp(join(tmpdir(), 'whoop-sync-private-'));
    await chmod(closed, 0o700);
    const dataDir = join(closed, 'data');
    try {
      const server = startServerProcess({ DATA_DIR: dataDir });
      const { code } = await server.exited;
      expect(code).toBe(1);
      const lines = server.output().trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^whoop-sync: start-up failed: whoop-sync runs as root and PostgreSQL refuses to/);
      expect(lines[0]).toContain(`cannot enter ${closed} on the way to DATA_DIR (${dataDir})`);
      expect(lines[0]).toContain(`chmod o+x ${closed}`);
      expect(await readdir(dataDir)).toEqual([]);
    } finally {
      await rm(closed, { recursive: true, force: true });
    }
  });
});
