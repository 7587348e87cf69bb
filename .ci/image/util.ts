// Shared by the .ci/image-check modules: failing with a message the shell script prints as-is, indented
// progress notes, child processes, and the facts that the final summary line reports.
import balenaDockerignore from '@balena/dockerignore';
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export function die(message: string): never {
  console.error(`image-check: FAIL: ${message}`);
  process.exit(1);
}

export const note = (message: string): void => console.log(`  ${message}`);

/** Runs a command with inherited output; a non-zero exit fails the check. */
export function run(cmd: string, argv: string[], options: SpawnSyncOptions = {}): void {
  const r = spawnSync(cmd, argv, { stdio: 'inherit', ...options });
  if (r.status !== 0) die(`${[cmd, ...argv].join(' ')} failed (${r.status ?? r.signal ?? r.error?.message})`);
}

/** The output of a command, trimmed; empty when it fails. */
export function output(cmd: string, argv: string[]): string {
  const r = spawnSync(cmd, argv, { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : '';
}

/** Docker's .dockerignore matcher for these patterns. */
export const dockerignore = (patterns: string[]) =>
  // The package is CommonJS typed as an ES module: module.exports.default is the factory itself. Docker matches
  // case-sensitively on Linux; the library's default is the Windows/macOS behaviour.
  balenaDockerignore.default({ ignorecase: false }).add(patterns);

export const du = (p: string): string => output('du', ['-sh', p]).split('\t')[0] ?? '?';

export const isRoot = (): boolean => process.getuid?.() === 0;

/** Every file below dir (directories descended, symlinks listed as files), as sorted /-separated paths. */
export function walk(dir: string, base = dir, out: string[] = []): string[] {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const abs = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(abs, base, out);
    else out.push(path.relative(base, abs).split(path.sep).join('/'));
  }
  return out.sort();
}

// The work directory of the run (the shell script's temp dir): the service's home and logs, and facts.json,
// which collects what the summary line reports from the separate module calls.
export function workDir(): string {
  const work = process.env.IMAGE_CHECK_WORK;
  if (!work) die('IMAGE_CHECK_WORK is not set (run .ci/image-check)');
  return work;
}

type Facts = Record<string, string | number>;
const factsFile = (): string => path.join(workDir(), 'facts.json');

export function readFacts(): Facts {
  return fs.existsSync(factsFile()) ? (JSON.parse(fs.readFileSync(factsFile(), 'utf8')) as Facts) : {};
}

export function recordFacts(facts: Facts): void {
  fs.writeFileSync(factsFile(), JSON.stringify({ ...readFacts(), ...facts }, null, 2));
}
