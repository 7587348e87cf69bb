// Starts the real service entry point as a child process, the way `npm start` does: the compiled output
// (test/support/compiled.ts), which the vitest globalSetup brings up to date with src/ first.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, SERVER_ENTRY, SYNC_CLI_ENTRY } from './compiled.js';

export interface ServerProcess {
  child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Resolves with the base URL once the server logs that it listens. */
  listening(timeoutMs?: number): Promise<string>;
  /**
   * Resolves once the process logs that it is the worker, which it becomes only after the token seed has
   * settled: WHOOP's answer to one of the seed's requests does not mean the seed is done.
   */
  working(timeoutMs?: number): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Another user to run as (the test runs as root): spawn's uid and gid, without supplementary groups. */
export interface Account {
  uid: number;
  gid: number;
}

/**
 * The first ordinary account of this machine (uid 1000 and up, not nobody), to run as a person would; only
 * when it can reach this checkout and Node (a clone in root's private directory, such as `mktemp -d`'s, is
 * out of its reach: those runs are then left out, and said so).
 */
export function ordinaryAccount(): (Account & { name: string }) | undefined {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const [name, , uid, gid] = line.split(':');
    if (!(Number(uid) >= 1000 && Number(uid) < 65534)) continue;
    const account = { name: name!, uid: Number(uid), gid: Number(gid) };
    const reaches = (flag: string, path: string) => spawnSync('test', [flag, path], { uid: account.uid, gid: account.gid }).status === 0;
    if (reaches('-r', join(REPO_ROOT, 'package.json')) && reaches('-x', process.execPath)) return account;
    console.warn(`runs as ${name} left out: ${name} cannot reach ${REPO_ROOT} or ${process.execPath}`);
    return undefined;
  }
  return undefined;
}

/**
 * Node's own warnings (`(node:123) TimeoutNegativeWarning: …`) printed by a service or CLI process these
 * helpers started; a person running it would see them too. test/support/node-warnings.ts fails the file.
 */
export const nodeWarnings: string[] = [];
const NODE_WARNING = /^\(node:\d+\) (\[\w+\] )?\w*Warning: .*$/gm;
const noteWarnings = (output: string) => nodeWarnings.push(...(output.match(NODE_WARNING) ?? []));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `npm run sync -- <args>` (its script, without npm) and collects its output. */
export function runSyncCli(
  args: string[],
  env: Record<string, string>,
  cwd?: string,
  account?: Account,
): Promise<CliResult> {
  return runCli(SYNC_CLI_ENTRY, args, env, cwd, account);
}

/** Runs one of the compiled CLI entry points with only `env` (and PATH, HOME) and collects its output. */
export async function runCli(
  entry: string,
  args: string[],
  env: Record<string, string>,
  cwd?: string,
  account?: Account,
): Promise<CliResult> {
  const child = spawn(process.execPath, [entry, ...args], {
    cwd,
    ...account,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  noteWarnings(stderr);
  return { code, stdout, stderr };
}

/** `env` is added to the defaults (HOST=127.0.0.1, PORT=0); a variable given as undefined is left unset. */
export function startServerProcess(
  env: Record<string, string | undefined>,
  cwd?: string,
  account?: Account,
): ServerProcess {
  // Only what a person's shell would have: no inherited test configuration.
  const child = spawn(process.execPath, [SERVER_ENTRY], {
    cwd,
    ...account,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      noteWarnings(output);
      resolve({ code, signal });
    }),
  );
  async function logged(pattern: RegExp, what: string, timeoutMs: number): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const match = pattern.exec(output);
      if (match) return match;
      if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`server did not ${what} within ${timeoutMs} ms:\n${output}`);
  }
  return {
    child,
    output: () => output,
    exited,
    async listening(timeoutMs = 60_000) {
      return (await logged(/Server listening at (http:\/\/127\.0\.0\.1:\d+)/, 'listen', timeoutMs))[1]!;
    },
    async working(timeoutMs = 30_000) {
      await logged(/this process is the worker/, 'become the worker', timeoutMs);
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
