// The image's ENTRYPOINT + CMD started as `docker run` would: from WORKDIR, as USER (via setpriv), with a
// clean environment made of the image's ENV (container paths mapped into the replay), PORT and the given
// variables. It must pass its own HEALTHCHECK, answer /readyz, keep its state where it belongs and exit 0 on
// SIGTERM within 15 s.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { readImage, runtime } from './contents.js';
import type { Image } from './dockerfile.js';
import { die, du, isRoot, note, output, recordFacts, workDir } from './util.js';

const TABLES = ['whoop_users', 'whoop_tokens', 'whoop_cycles', 'whoop_recoveries', 'whoop_sleeps', 'whoop_workouts', 'sync_runs'];

const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });

const httpStatus = (url: string): Promise<number> =>
  fetch(url, { signal: AbortSignal.timeout(5000) }).then((r) => r.status, () => 0);

const uidOf = (pid: number): string =>
  /^Uid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '?';

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

export async function runService([name, imageJson, ...vars]: string[]): Promise<void> {
  if (!name || !imageJson) die('usage: run NAME IMAGE_JSON [VAR=VALUE...]');
  const image = readImage(imageJson);
  const { uid, gid, health, entry } = runtime(image);
  const work = workDir();
  const toolbin = process.env.IMAGE_CHECK_TOOLBIN ?? die('IMAGE_CHECK_TOOLBIN is not set');
  const app = image.workdirHost;
  const extra = Object.fromEntries(vars.map((v) => [v.slice(0, v.indexOf('=')), v.slice(v.indexOf('=') + 1)]));
  const dataDir = extra.DATABASE_URL ? null : embeddedDataDir(image);
  // The VOLUME directories and HOME are the only places the service may write; a new volume is owned by USER.
  const home = path.join(work, 'home');
  for (const dir of [...image.volumesHost, home]) {
    fs.mkdirSync(dir, { recursive: true });
    if (isRoot()) fs.chownSync(dir, uid, gid);
  }
  const runAs = isRoot() ? ['setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups'] : [];
  const port = await freePort();
  const env = {
    PATH: `${toolbin}:/usr/local/bin:/usr/bin:/bin`, HOME: home, HOSTNAME: 'image-check', ...image.mappedEnv,
    PORT: String(port), ...extra,
  };
  const inContainer = (argv: string[]) => {
    const [cmd, ...args] = [...runAs, ...argv];
    return spawnSync(cmd!, args, { cwd: app, env, stdio: 'ignore', timeout: 10_000 }).status === 0;
  };

  const log = path.join(work, `service-${name}.log`);
  const logFd = fs.openSync(log, 'w');
  const [cmd, ...args] = [...runAs, ...entry];
  // detached = setsid: the session holds tini and node. A process-group kill would miss node, because tini
  // moves its child into a process group of its own. The shell script's trap kills the session too.
  const child = spawn(cmd!, args, { cwd: app, env, detached: true, stdio: ['ignore', logFd, logFd] });
  const pid = child.pid ?? die(`could not start ${entry.join(' ')}`);
  const pidFile = path.join(work, 'service.pid');
  fs.writeFileSync(pidFile, String(pid));
  const killSession = () => {
    if (child.exitCode === null && child.signalCode === null) spawnSync('pkill', ['-KILL', '-s', String(pid)]);
  };
  process.on('exit', killSession);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? '?')));
  const failWithLog = (message: string): never => {
    for (const line of fs.readFileSync(log, 'utf8').trimEnd().split('\n')) console.log(`  | ${line}`);
    return die(message);
  };

  const started = Date.now();
  for (;;) {
    if (inContainer(health)) break;
    if (child.exitCode !== null || child.signalCode !== null) failWithLog('the service exited before its HEALTHCHECK passed');
    if (Date.now() - started > 60_000) failWithLog('the HEALTHCHECK did not pass within 60 s');
    await sleep(500);
  }
  note(`HEALTHCHECK passed after ${Math.round((Date.now() - started) / 1000)} s (port ${port})`);
  // By executable, not by process name: Node 24 names its main thread (and so the process) "MainThread".
  const exe = (p: number) => {
    try {
      return fs.readlinkSync(`/proc/${p}/exe`);
    } catch {
      return '';
    }
  };
  const nodePid = output('pgrep', ['-P', String(pid)]).split('\n').map(Number).find((p) => p && exe(p).endsWith('/node'));
  if (!nodePid) die(`node is not a child of ${entry[0]}`);
  const nodeUid = uidOf(nodePid);
  if (isRoot() && nodeUid !== String(uid)) die(`node runs as uid ${nodeUid}, expected ${uid}`);
  note(`process tree: ${entry[0]} (pid ${pid}) → node (pid ${nodePid}, uid ${nodeUid})`);
  const ready = await httpStatus(`http://127.0.0.1:${port}/readyz`);
  if (ready !== 200) die(`/readyz answered ${ready}`);
  note('/readyz 200');
  const metrics = await httpStatus(`http://127.0.0.1:${port}/metrics`);
  if (metrics === 200) note('/metrics 200 (what Prometheus scrapes)');
  else if (metrics === 404) note('/metrics 404: not served by this version');
  else die(`/metrics answered ${metrics}`);

  const postmaster = dataDir === null ? await postgresChecks(extra.DATABASE_URL!, app) : embeddedChecks(dataDir, uid);

  const stopStarted = Date.now();
  process.kill(pid, 'SIGTERM');
  const code = await Promise.race([exited, sleep(15_000).then(() => 'timeout')]);
  if (code === 'timeout') failWithLog('still running 15 s after SIGTERM');
  fs.rmSync(pidFile);
  if (code !== 0) failWithLog(`exit code ${code} after SIGTERM, expected 0`);
  const stopMs = Date.now() - stopStarted;
  note(`SIGTERM → exit 0 after ${stopMs} ms`);
  if (postmaster !== null) {
    if (alive(postmaster)) die(`the embedded PostgreSQL server (pid ${postmaster}) still runs after the service stopped`);
    note('no PostgreSQL process left after SIGTERM');
  }
  recordFacts({ [`stopMs_${name}`]: stopMs });
  fs.closeSync(logFd);
}

/** _prisma_migrations lists every migration, finished, with the sha256 of its file; the tables exist. */
async function postgresChecks(url: string, app: string): Promise<null> {
  const dir = path.join(app, 'prisma/migrations');
  const expected = fs.readdirSync(dir).filter((d) => fs.existsSync(path.join(dir, d, 'migration.sql'))).sort()
    .map((d) => `${d} ${createHash('sha256').update(fs.readFileSync(path.join(dir, d, 'migration.sql'))).digest('hex')} true true`);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ row: string }>(
      `SELECT migration_name || ' ' || checksum || ' ' || (finished_at IS NOT NULL)::text || ' ' ||
              (rolled_back_at IS NULL)::text AS row FROM _prisma_migrations`);
    const actual = rows.map((r) => r.row).sort();
    if (actual.join('\n') !== expected.join('\n')) {
      die(`_prisma_migrations does not match prisma/migrations:\n${actual.join('\n')}\nexpected:\n${expected.join('\n')}`);
    }
    if (actual.some((r) => !/^\S+ [0-9a-f]{64} true true$/.test(r))) die('a checksum in _prisma_migrations is not 64 hex digits');
    note(`_prisma_migrations: ${actual.length} migration(s), each finished, checksum = sha256 of its file`);
    const missing = await client.query<{ t: string }>(
      'SELECT t FROM unnest($1::text[]) AS t WHERE to_regclass(\'public.\' || t) IS NULL', [TABLES]);
    if (missing.rows.length) die(`missing tables: ${missing.rows.map((r) => r.t).join(' ')}`);
    note(`tables ${TABLES.join(', ')} exist`);
  } finally {
    await client.end();
  }
  return null;
}

/** Without DATABASE_URL the service keeps its embedded server's data in DATA_DIR, which must be a VOLUME. */
function embeddedDataDir(image: Image): string {
  const dataDir = image.mappedEnv.DATA_DIR ?? die('the image sets no DATA_DIR');
  if (!image.volumesHost.includes(dataDir)) die('DATA_DIR is not a declared VOLUME');
  return dataDir;
}

/** The embedded server's data in DATA_DIR, owned by USER, and the server running as USER; returns its pid. */
function embeddedChecks(dataDir: string, uid: number): number {
  if (!fs.existsSync(path.join(dataDir, 'postgres/PG_VERSION'))) die('no PostgreSQL data directory in DATA_DIR');
  if (isRoot()) {
    const foreign = output('find', [dataDir, '!', '-uid', String(uid), '-print', '-quit']);
    if (foreign) die(`${foreign} in DATA_DIR is not owned by uid ${uid}`);
  }
  note(`embedded database created in DATA_DIR (${du(dataDir)}), owned by uid ${uid}`);
  const postmaster = Number(fs.readFileSync(path.join(dataDir, 'postgres/postmaster.pid'), 'utf8').split('\n')[0]);
  const pgUid = uidOf(postmaster);
  if (isRoot() && pgUid !== String(uid)) die(`the embedded PostgreSQL server runs as uid ${pgUid}, expected ${uid}`);
  note(`embedded PostgreSQL server: pid ${postmaster}, uid ${pgUid}`);
  return postmaster;
}
