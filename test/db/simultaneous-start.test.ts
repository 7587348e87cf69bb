// Two services started on one DATA_DIR at nearly the same moment (`npm start & npm start`, or a supervisor
// restarting while a slow first start is still creating the database): exactly one runs, the other exits 1
// with one line naming the data directory and the process holding it, and nothing is left half-alive. A
// holder killed with SIGKILL half-way never blocks the next start. Run as root and, when the tests run as
// root, as an ordinary user too, since the embedded server runs as another user only for root.
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isAlive } from '../../src/util/processes.js';
import { ordinaryAccount, runSyncCli, startServerProcess, type Account, type ServerProcess } from '../support/server-process.js';
import { until } from '../support/until.js';

const READY_MS = 90_000;

const ordinary = process.getuid?.() === 0 ? ordinaryAccount() : undefined;
const runners: { who: string; account: Account | undefined }[] = [
  { who: process.getuid?.() === 0 ? 'root' : 'this user', account: undefined },
  ...(ordinary ? [{ who: `user ${ordinary.name}`, account: { uid: ordinary.uid, gid: ordinary.gid } }] : []),
];

describe.each(runners)('services started on one DATA_DIR at the same moment, as $who', { timeout: 3 * READY_MS }, ({ account }) => {
  let root: string;
  let dataDir: string;
  let started: ServerProcess[] = [];
  const start = () => {
    const server = startServerProcess({ DATA_DIR: dataDir, HOME: root }, undefined, account);
    started.push(server);
    return server;
  };

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'whoop-sync-simultaneous-'));
    await chmod(root, 0o755); // run as root, the server's own user must reach DATA_DIR
    dataDir = join(root, 'data');
    await mkdir(dataDir);
    if (account) await chown(dataDir, account.uid, account.gid);
  });
  afterEach(async () => {
    await Promise.all(started.map((server) => server.stop('SIGKILL')));
    started = [];
    const pid = Number((await readFile(join(dataDir, 'postgres', 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0]);
    if (pid && isAlive(pid)) process.kill(pid, 'SIGINT');
    await until(() => !pid || !isAlive(pid), 'the embedded server to stop', 30_000);
    await rm(root, { recursive: true, force: true, maxRetries: 10 });
  });

  /** The one of `servers` that runs (ready, not half-alive) and the one that was refused naming it. */
  async function oneRunsOneRefused(servers: ServerProcess[]): Promise<ServerProcess> {
    const refused = await Promise.race(servers.map((server) => server.exited.then(() => server)));
    const running = servers.find((server) => server !== refused)!;
    const url = await running.listening(READY_MS);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    expect((await refused.exited).code).toBe(1);
    expect(refused.output().trim()).toBe(
      `whoop-sync: start-up failed: the data directory ${dataDir} is in use by process ${running.child.pid} (another whoop-sync): stop that one first, or give this one a DATA_DIR of its own.`,
    );
    return running;
  }

  const initialising = async () => (await readdir(dataDir)).some((entry) => entry.startsWith('postgres.init'));

  it('on a new DATA_DIR: one creates the database and runs, the other is refused in one line', async () => {
    const running = await oneRunsOneRefused([start(), start()]);
    // and again on the database just created, which both would open
    expect((await running.stop('SIGTERM')).code).toBe(0);
    await oneRunsOneRefused([start(), start()]);
  });

  it('while the first still creates the database: a second service is refused, `npm run sync` waits and shares it', async () => {
    const first = start();
    await until(initialising, 'initdb to run', READY_MS);
    const second = start();
    const cli = runSyncCli(['--days', '1'], { DATA_DIR: dataDir, HOME: root }, undefined, account);
    expect(await oneRunsOneRefused([first, second])).toBe(first);
    const { stdout, stderr } = await cli;
    expect(stderr).not.toMatch(/start-up failed|in use/);
    expect(stdout + stderr).toMatch(/account/i);
    expect((await fetch(`${await first.listening()}/readyz`)).status).toBe(200);
  });

  it('after a start killed with SIGKILL while creating the database, the next one starts at once', async () => {
    const killed = start();
    await until(initialising, 'initdb to run', READY_MS);
    await killed.stop('SIGKILL');
    // Its lock names a process that is gone (and its initdb may still be running without it).
    expect((await readFile(join(dataDir, 'postgres.owner'), 'utf8')).split('\n')[0]).toBe(String(killed.child.pid));
    const next = start();
    const url = await next.listening(READY_MS);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    expect((await next.stop('SIGTERM')).code).toBe(0);
    expect(await readdir(dataDir)).not.toContain('postgres.owner');

    // A lock whose pid now runs another program (pid 1, started at another time): after a reboot or a
    // container's restart.
    await writeFile(join(dataDir, 'postgres.owner'), '1\n0\n');
    if (account) await chown(join(dataDir, 'postgres.owner'), account.uid, account.gid);
    const after = start();
    expect((await fetch(`${await after.listening(READY_MS)}/readyz`)).status).toBe(200);
  });
});
