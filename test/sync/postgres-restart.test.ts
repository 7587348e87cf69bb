// The run pipeline while a real PostgreSQL server restarts under it (not a proxy): the test runs an
// embedded server of its own (the same module the service runs by default; whatever TEST_DATABASE_URL
// names is left alone), points the service at it with DATABASE_URL, and stops and starts it with pg_ctl
// during a /sync whose WHOOP answers are held.
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForDatabase } from '../../src/db/connect.js';
import { openDatabase } from '../../src/db/database.js';
import { openEmbeddedServer } from '../../src/db/embedded-server.js';
import { isTransient } from '../../src/db/transient.js';
import { startEnvironment, type Environment } from '../support/environment.js';
import type { TestDatabase } from '../support/database.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An embedded server this file owns, with pg_ctl run as the server's own user. */
async function ownServer() {
  const dataDir = await mkdtemp(join(tmpdir(), 'whoop-sync-restart-'));
  await chmod(dataDir, 0o755); // run as root, the server's own user must reach it
  const server = await openEmbeddedServer({ dataDir, durable: false, maxConnections: 50 });
  const data = join(dataDir, 'postgres');
  // Beside the binary the server runs (postmaster.opts starts with its path): node_modules' own, or the
  // mirror a server run by root from a closed directory uses.
  const postgres = (await readFile(join(data, 'postmaster.opts'), 'utf8')).split(' ')[0]!;
  const pgCtl = join(dirname(postgres), 'pg_ctl');
  const { uid, gid } = await stat(data);
  const ctl = (...args: string[]) =>
    new Promise<void>((resolve, reject) => {
      const child = spawn(pgCtl, [...args, '-D', data], { ...(process.getuid?.() === 0 ? { uid, gid } : {}), cwd: data, stdio: 'ignore' });
      child.once('error', reject);
      child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`pg_ctl ${args.join(' ')} exited with ${code}`))));
    });
  const serviceDir = join(dataDir, 'service');
  await mkdir(serviceDir);
  return {
    url: server.url,
    /** Fast shutdown: every session is ended (57P01), new connections are refused. */
    stop: () => ctl('stop', '-m', 'fast', '-w'),
    /** Smart shutdown, not waited for: sessions go on, new connections are refused (57P03) until they end. */
    stopWhenIdle: () => ctl('stop', '-m', 'smart', '--no-wait'),
    /** Starts it again on the same port with the same settings (pg_ctl restart reads them from postmaster.opts). */
    start: () => ctl('restart', '-w', '-t', '60', '-l', join(data, 'pg_ctl.log')),
    database: {
      env: { DATABASE_URL: server.url, DATA_DIR: serviceDir },
      databaseUrl: server.url,
      dataDir: serviceDir,
      async drop() {
        await ctl('stop', '-m', 'immediate', '-w').catch(() => {});
        await server.stop();
        await rm(dataDir, { recursive: true, force: true });
      },
    } satisfies TestDatabase,
  };
}

describe('a real PostgreSQL server restarting under the pipeline', { timeout: 90_000 }, () => {
  let server: Awaited<ReturnType<typeof ownServer>>;
  let env: Environment | undefined;

  beforeAll(async () => {
    server = await ownServer();
  });
  afterAll(async () => {
    if (env) await env.close(); // drops the database: stops the server
    else await server?.database.drop();
  });

  it('says what the pipeline and the start-up wait treat as transient: 57P01, 57P03, refused connections', async () => {
    const session = new pg.Client({ connectionString: server.url });
    await session.connect();
    // The first error is the server's; the end of the socket follows it.
    const ended = new Promise<Error>((resolve) => session.on('error', resolve));
    // Start-up while the server goes down and comes back: retried, not failed.
    await server.stopWhenIdle();
    const seen: Array<string | undefined> = [];
    const db = await openDatabase({ databaseUrl: server.url, dataDir: server.database.dataDir });
    try {
      const onRetry = (_attempt: number, _delayMs: number, error: Error & { code?: string }) => seen.push(error.code);
      const waited = waitForDatabase(db, { timeoutMs: 60_000, onRetry });
      await expect.poll(() => seen, { timeout: 10_000 }).toContain('57P03');
      const refused = await new pg.Client({ connectionString: server.url }).connect().catch((error: Error) => error);
      expect(refused).toMatchObject({ code: '57P03', message: 'the database system is shutting down' });
      expect(isTransient(refused)).toBe(true);
      // A fast shutdown ends the session that kept the server up.
      await server.stop();
      expect(await ended).toMatchObject({ code: '57P01', message: 'terminating connection due to administrator command' });
      expect(isTransient(await ended)).toBe(true);
      await expect.poll(() => seen, { timeout: 10_000 }).toContain('ECONNREFUSED');
      await server.start();
      await waited;
    } finally {
      await db.close();
      await session.end().catch(() => {});
    }
  });

  async function syncAcrossOutage(downMs: number): Promise<void> {
    env ??= await startEnvironment({ database: server.database, days: 10 });
    if ((await env.app.app.db.prisma.whoopToken.count()) === 0) expect((await env.connect()).status).toBe(200);
    env.slack.reset();
    const release = env.whoop.hold();
    try {
      expect((await env.command('3')).status).toBe(200);
      await expect.poll(() => env!.whoop.stats.requests.some((r) => r.path === '/developer/v2/cycle' && r.status === 0), { timeout: 10_000 }).toBe(true);
      await server.stop();
    } finally {
      release(); // the sync's pages arrive while the database is down
    }
    await sleep(downMs);
    await server.start();
    const restartedAt = Date.now();
    const [message] = await env.slack.waitForMessages(1, 30_000);
    expect(message!.text).toMatch(/^✅ Sync for <@U0ALICE001>/);
    // Retried within the backoff (at most 5 s between attempts) once the server is back.
    expect(Date.now() - restartedAt).toBeLessThan(20_000);
    const run = await env.app.app.db.prisma.syncRun.findFirstOrThrow({ where: { trigger: 'slack' }, orderBy: { id: 'desc' } });
    expect(run).toMatchObject({ status: 'succeeded', error: null });
    const prisma = env.app.app.db.prisma;
    const reportedAt = async () => (await prisma.syncRun.findUniqueOrThrow({ where: { id: run.id } })).reportedAt;
    await expect.poll(reportedAt).toBeInstanceOf(Date);
    expect(await env.app.app.db.prisma.syncRun.count({ where: { status: { in: ['queued', 'running'] } } })).toBe(0);
  }

  it('retries a sync whose server restarted in a few seconds, and posts its result', async () => {
    await syncAcrossOutage(3_000);
  });

  it('finishes a sync whose server was down for 15 seconds once it is back, and posts its result', async () => {
    await syncAcrossOutage(15_000);
  });
});
