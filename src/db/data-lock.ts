// The exclusive hold of one whoop-sync process on a DATA_DIR's embedded server: a file created with O_EXCL
// ('wx') that names its holder, taken before anything in the data directory is inspected, initialised or
// started, and removed when the holder stops its server. Two processes starting at the same moment can
// therefore never both run initdb or postgres; the one that loses is told who holds the directory.
// A holder that died without removing it (SIGKILL, OOM, power loss) leaves a stale file, recognised by its
// pid no longer running (or running another program since, by its start time) and broken at once.
// Why not a library: see docs/database.md.
import { open, readFile, rename, rm } from 'node:fs/promises';
import { isAlive, startTime } from '../util/processes.js';

/** Who holds a data directory, as its lock file says. */
export interface Holder {
  pid: number;
  /** The holder's start time (Linux /proc clock ticks), telling it from a later process given the same pid. */
  started?: string;
}

/** A file being written has no pid yet for this long at most; one still empty after it was left so by a kill. */
const EMPTY_GRACE_MS = 1_000;

/**
 * Takes the lock at `file`: undefined once this process holds it, or the live process that does.
 * Never waits for a live holder.
 */
export async function takeLock(file: string): Promise<Holder | undefined> {
  for (;;) {
    if (await create(file)) return undefined;
    const text = await readHolder(file);
    if (text === undefined) continue; // released meanwhile: try again
    const holder = parse(text);
    if (holder && running(holder)) return holder;
    await breakStale(file, text);
  }
}

/** Gives the lock up; only its holder calls this. */
export async function releaseLock(file: string): Promise<void> {
  await rm(file, { force: true });
}

async function create(file: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(file, 'wx', 0o644);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    await handle.writeFile(`${process.pid}\n${startTime(process.pid) ?? ''}\n`);
  } finally {
    await handle.close();
  }
  return true;
}

/** The lock file's text once it names a pid (or has stayed empty past the grace); undefined when it is gone. */
async function readHolder(file: string): Promise<string | undefined> {
  const deadline = Date.now() + EMPTY_GRACE_MS;
  for (;;) {
    const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    if (text === undefined || text.includes('\n') || Date.now() > deadline) return text;
    await new Promise((done) => setTimeout(done, 20));
  }
}

function parse(text: string): Holder | undefined {
  const [pid, started] = text.split('\n');
  const number = Number(pid);
  if (!Number.isInteger(number) || number <= 0) return undefined;
  return { pid: number, ...(started ? { started } : {}) };
}

function running(holder: Holder): boolean {
  // Our own pid in the file is a previous life of this pid: a container restarted reuses its pids.
  if (holder.pid === process.pid || !isAlive(holder.pid)) return false;
  const started = startTime(holder.pid);
  return holder.started === undefined || started === undefined || started === holder.started;
}

/**
 * Removes a stale lock file, unless another process broke it and took the lock between our reading it and
 * now: the file is moved aside (atomic), and what was moved is compared with what was judged stale.
 */
async function breakStale(file: string, stale: string): Promise<void> {
  const aside = `${file}.stale-${process.pid}`;
  try {
    await rename(file, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  const moved = await readFile(aside, 'utf8').catch(() => stale);
  if (moved !== stale) {
    // A fresh lock, taken by the process that broke the stale one first: put it back.
    await rename(aside, file);
    return;
  }
  await rm(aside, { force: true });
}
