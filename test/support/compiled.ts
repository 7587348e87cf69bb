// The service as `npm start` runs it: compiled to dist/ by `tsc -b tsconfig.build.json` (a no-op when dist/
// is current), then `node dist/server.js`. Tests, the demo and the benchmarks start that same output, so what
// they start is what a person runs; the vitest globalSetup compiles once per test run.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const SERVER_ENTRY = fileURLToPath(new URL('../../dist/server.js', import.meta.url));
export const SYNC_CLI_ENTRY = fileURLToPath(new URL('../../dist/cli/sync.js', import.meta.url));
export const SLASH_CLI_ENTRY = fileURLToPath(new URL('../../dist/cli/slash.js', import.meta.url));
export const CONNECT_CLI_ENTRY = fileURLToPath(new URL('../../dist/cli/connect.js', import.meta.url));
export const EXPORT_CLI_ENTRY = fileURLToPath(new URL('../../dist/cli/export.js', import.meta.url));
export const FORGET_CLI_ENTRY = fileURLToPath(new URL('../../dist/cli/forget.js', import.meta.url));

/** Brings dist/ up to date with src/, as `npm start` does first; throws with the compiler's output if it fails. */
export function compileService(): void {
  const tsc = require.resolve('typescript/bin/tsc');
  const result = spawnSync(process.execPath, [tsc, '-b', 'tsconfig.build.json'], { cwd: REPO_ROOT, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`compiling src/ to dist/ failed (tsc -b tsconfig.build.json):\n${result.stdout}${result.stderr}`);
}
