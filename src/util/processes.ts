// Whether a process still runs, and signalling one that may be gone: how the embedded server's supervision
// sees the PostgreSQL processes it started or found.
import { readFileSync } from 'node:fs';

export function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

/** Running: a process of another user counts (EPERM); a zombie, exited but not yet reaped, does not. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A process that has exited stays a zombie until its parent reaps it. An orphaned server's parent is
  // PID 1, which in a container may reap late: its data directory is free as soon as it is a zombie.
  return !isZombie(pid);
}

function isZombie(pid: number): boolean {
  try {
    // /proc/<pid>/stat: "pid (comm) state …"; comm may hold spaces and parentheses, the state follows the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return false; // no /proc (macOS): kill(pid, 0) is the answer
  }
}

/**
 * When `pid` started (field 22 of /proc/<pid>/stat, clock ticks since boot), which tells a process from a
 * later one given the same pid; undefined without /proc or when the process is gone.
 */
export function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command's closing ')': state is field 3, start time field 22.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}
