// Start-up against a database that is not there yet, or not at all: retried with one line per attempt,
// "database opened" only once a query succeeded, and a final message naming host, port and what to check.
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForDatabase } from '../../src/db/connect.js';
import { openDatabase } from '../../src/db/database.js';
import { describeStartupFailure } from '../../src/startup-failure.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { startServerProcess } from '../support/server-process.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  await new Promise((done) => server.close(done));
  return port;
}

describe('start-up while the database is down', { timeout: 120_000 }, () => {
  let testDb: TestDatabase;
  let proxy: TcpProxy;

  beforeAll(async () => {
    testDb = await createTestDatabase();
    const target = new URL(testDb.databaseUrl);
    proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
  });
  afterAll(async () => {
    await proxy?.close();
    await testDb?.drop();
  });

  it('retries with one line per attempt, logs "database opened" only after a query succeeded, then serves', async () => {
    await proxy.cut();
    const viaProxy = new URL(testDb.databaseUrl);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);
    const server = startServerProcess({ DATABASE_URL: viaProxy.toString(), DATA_DIR: testDb.dataDir });
    try {
      const deadline = Date.now() + 60_000;
      while ((server.output().match(/database not reachable/g) ?? []).length < 2) {
        if (Date.now() > deadline || server.child.exitCode !== null) throw new Error(`no retries seen:\n${server.output()}`);
        await new Promise((done) => setTimeout(done, 50));
      }
      expect(server.output()).not.toContain('database opened');
      await proxy.restore();
      const url = await server.listening(60_000);
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
      const output = server.output();
      expect(output).toContain(`"address":"127.0.0.1:${proxy.port}"`);
      expect(output).toMatch(/database not reachable \(attempt 1: .*\); retrying in 0\.5 s/);
      expect(output).toMatch(/database not reachable \(attempt 2: .*\); retrying in 1\.0 s/);
      expect(output.indexOf('database opened')).toBeGreaterThan(output.lastIndexOf('database not reachable'));
      // One short line per attempt: no error object, no stack trace below LOG_LEVEL=debug.
      const retries = output.split('\n').filter((line) => line.includes('database not reachable'));
      for (const line of retries) {
        expect(line).not.toContain('"err"');
        expect(line.length).toBeLessThan(400);
      }
    } finally {
      await server.stop();
    }
  });

  it('adds the error with its stack to each attempt at LOG_LEVEL=debug', async () => {
    const server = startServerProcess({ DATABASE_URL: `postgres://postgres@127.0.0.1:${await closedPort()}/whoop`, DATA_DIR: testDb.dataDir, LOG_LEVEL: 'debug' });
    try {
      const deadline = Date.now() + 30_000;
      while (!server.output().includes('database not reachable')) {
        if (Date.now() > deadline || server.child.exitCode !== null) throw new Error(`no retry seen:\n${server.output()}`);
        await new Promise((done) => setTimeout(done, 50));
      }
      const line = server.output().split('\n').find((candidate) => candidate.includes('database not reachable'))!;
      expect(line).toContain('"err"');
      expect(line).toContain('"stack"');
    } finally {
      await server.stop();
    }
  });

  it('gives up after its deadline naming host, port and what to check', async () => {
    const port = await closedPort();
    const db = await openDatabase({ databaseUrl: `postgres://postgres@127.0.0.1:${port}/whoop`, dataDir: tmpdir() });
    const attempts: number[] = [];
    try {
      const onRetry = (attempt: number) => attempts.push(attempt);
      const failure = await waitForDatabase(db, { timeoutMs: 2_000, onRetry }).then(
        () => undefined,
        (error: Error) => error,
      );
      expect(failure?.message).toMatch(new RegExp(`^Cannot reach PostgreSQL at 127\\.0\\.0\\.1:${port} \\(ECONNREFUSED.*\\), tried \\d+ times in 2 s\\. Check that the server is running`));
      expect(attempts.length).toBeGreaterThanOrEqual(2);
    } finally {
      await db.close();
    }
  });

  it('fails at once when waiting cannot help (no such database), saying what to fix', async () => {
    const url = new URL(testDb.databaseUrl);
    url.pathname = '/whoop_sync_no_such_database';
    const db = await openDatabase({ databaseUrl: url.toString(), dataDir: tmpdir() });
    const attempts: number[] = [];
    try {
      await expect(waitForDatabase(db, { onRetry: (attempt) => attempts.push(attempt) })).rejects.toThrow(
        /refused the connection: 3D000 .*does not exist\. Create that database, or fix the database name at the end of DATABASE_URL/,
      );
      expect(attempts).toEqual([]);
    } finally {
      await db.close();
    }
  });
});

describe('start-up failure messages', () => {
  it('say what to do for a full disk, and never print [object Object] or undefined', () => {
    const full = Object.assign(new Error("ENOSPC: no space left on device, write '/app/data/postgres-password.new'"), { code: 'ENOSPC', path: '/app/data/postgres-password.new' });
    expect(describeStartupFailure(full)).toMatch(/^the disk is full: free some space .*ENOSPC: no space left on device/);
    expect(describeStartupFailure({ code: 'ENOSPC', errno: -28 })).toMatch(/^the disk is full: .*errno: -28/);
    expect(describeStartupFailure({ message: undefined, status: 'broken' })).toBe("unexpected error: { message: undefined, status: 'broken' }");
    expect(describeStartupFailure(undefined)).toMatch(/^an unknown error \(the value thrown was undefined\)/);
    expect(describeStartupFailure(new Error(''))).toBe('Error');
    for (const value of [{}, [], null, 42, 'x', new Error('boom')]) expect(describeStartupFailure(value)).not.toMatch(/\[object Object\]|^$/);
  });

  it('the service started with DATA_DIR on a file exits 1 with one actionable line', { timeout: 60_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'whoop-sync-badpath-'));
    try {
      const file = join(dir, 'not-a-directory');
      await writeFile(file, 'x');
      const server = startServerProcess({ DATA_DIR: join(file, 'data') });
      expect((await server.exited).code).toBe(1);
      const lines = server.output().trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^whoop-sync: start-up failed: a path component is a file, not a directory: check DATA_DIR/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
