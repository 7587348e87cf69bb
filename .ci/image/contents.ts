// What the replayed image holds, and what `docker run` would start from it.
import fs from 'node:fs';
import path from 'node:path';
import type { Image } from './dockerfile.js';
import { die, du, isRoot, note, recordFacts } from './util.js';

export const readImage = (file: string): Image => JSON.parse(fs.readFileSync(file, 'utf8')) as Image;
const ls = (dir: string): string => fs.readdirSync(dir).sort().join(' ');

/** The run-time side of the final stage: USER, HEALTHCHECK, EXPOSE, as `docker run` would use them. */
export function runtime(image: Image) {
  const user = /^(\d+)(?::(\d+))?$/.exec(image.user) ?? die(`USER must be numeric uid[:gid] (is '${image.user}')`);
  const uid = Number(user[1]);
  const gid = Number(user[2] ?? user[1]);
  if (uid === 0) die('the image runs as root');
  const health = image.healthcheck?.test ?? die('the Dockerfile has no HEALTHCHECK');
  if (['CMD-SHELL', '/bin/sh'].includes(health[0]!)) die('HEALTHCHECK should use the exec form (no shell needed)');
  if (!image.expose.some((p) => p === '3000' || p === '3000/tcp')) die('the image does not EXPOSE 3000');
  return { uid, gid, health, entry: [...image.entrypoint, ...image.cmd] };
}

export function contents([imageJson, contextDir]: string[]): void {
  if (!imageJson || !contextDir) die('usage: contents IMAGE_JSON CONTEXT');
  const image = readImage(imageJson);
  const app = image.workdirHost;
  if (ls(image.root) !== 'app') die(`the final stage writes outside WORKDIR: ${ls(image.root)}`);
  const top = ls(app);
  const expected = 'dist node_modules package.json prisma public';
  if (top !== expected) die(`/app holds '${top}', expected '${expected}'`);
  if (ls(path.join(app, 'prisma')) !== 'migrations') die('/app/prisma holds more than migrations/');
  const migrations = fs.readdirSync(path.join(app, 'prisma/migrations'))
    .filter((d) => fs.existsSync(path.join(app, 'prisma/migrations', d, 'migration.sql')));
  if (!migrations.length) die('no migrations in /app/prisma/migrations');
  if (!fs.existsSync(path.join(app, 'dist/server.js')) || !fs.existsSync(path.join(app, 'dist/generated/prisma'))) {
    die('dist/ lacks server.js or the generated Prisma client');
  }
  if (!fs.existsSync(path.join(app, 'public/dashboard.js'))) die('/app/public lacks dashboard.js (the dashboard\'s script)');
  if (!fs.readFileSync(path.join(app, 'package.json')).equals(fs.readFileSync(path.join(contextDir, 'package.json')))) {
    die("/app/package.json differs from the repository's");
  }
  const stray = walkWithDirs(app, ['node_modules']).filter((p) => {
    const name = path.basename(p);
    return /^\.env|\.(pem|key)$|\.test\./.test(name) || name === 'src' || name === 'test' ||
      (name.endsWith('.ts') && !name.endsWith('.d.ts'));
  });
  if (stray.length) die(`the image would contain: ${stray.join(' ')}`);
  lockcheck(path.join(contextDir, 'package-lock.json'), path.join(app, 'node_modules'), path.join(contextDir, 'package.json'));
  note(`/app: dist/ (${du(path.join(app, 'dist'))}), node_modules/ (${du(path.join(app, 'node_modules'))}), ` +
    `prisma/migrations/ (${migrations.length} migrations), public/, package.json`);
  note(`no .env, no src/ or test/, no key files; not replayed (system-level):${image.notReplayed.map((r) => ` [${r}]`).join('')}`);

  const { uid, entry } = runtime(image);
  if (!isRoot()) note(`not root: the service runs as ${process.env.USER ?? 'this user'} instead of uid ${uid}`);
  const env = Object.entries(image.mappedEnv).map(([k, v]) => `${k}=${v}`);
  note(`runs: ${entry.join(' ')}  (cwd ${image.workdir}, uid ${uid}, env ${env.join(' ')})`);
  recordFacts({ nodeModules: du(path.join(app, 'node_modules')), runUid: uid });
}

/** Files and directories below dir (the named top-level directories skipped), relative to dir. */
function walkWithDirs(dir: string, skip: string[]): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (skip.includes(entry.name)) continue;
    out.push(entry.name);
    if (entry.isDirectory()) out.push(...walkWithDirs(path.join(dir, entry.name), []).map((p) => `${entry.name}/${p}`));
  }
  return out;
}

// The lock file marks what a production install must leave out: `dev` (only devDependencies need it) and
// `devOptional` (a devDependency that a production package lists as an optional peer, such as prisma and
// typescript for @prisma/client). Everything else that is not optional must be there.
function lockcheck(lockfile: string, nodeModules: string, packageJson: string): void {
  type Lock = { packages?: Record<string, { dev?: boolean; devOptional?: boolean; optional?: boolean }> };
  const lock = JSON.parse(fs.readFileSync(lockfile, 'utf8')) as Lock;
  const manifest = JSON.parse(fs.readFileSync(packageJson, 'utf8')) as { devDependencies?: Record<string, string> };
  const base = path.dirname(nodeModules);
  const problems: string[] = [];
  let devOnly = 0;
  let prod = 0;
  for (const [key, meta] of Object.entries(lock.packages ?? {})) {
    if (!key) continue;
    const present = fs.existsSync(path.join(base, key));
    if (meta.dev || meta.devOptional) {
      devOnly++;
      if (present) problems.push(`development package present: ${key}`);
    } else if (!meta.optional) {
      prod++;
      if (!present) problems.push(`production dependency missing: ${key}`);
    }
  }
  // The build tools, by name. (A devDependency that a production package also depends on, such as @types/pg
  // for @prisma/adapter-pg, is a production package for the lock file and rightly stays.)
  for (const name of ['prisma', 'typescript', 'vitest', 'tsx', 'esbuild', '@prisma/prisma-schema-wasm']) {
    if (fs.existsSync(path.join(nodeModules, name))) problems.push(`build tool present: node_modules/${name}`);
  }
  const bins = fs.existsSync(path.join(nodeModules, '.bin')) ? fs.readdirSync(path.join(nodeModules, '.bin')) : [];
  for (const tool of ['prisma', 'tsc', 'tsx', 'vitest', 'esbuild']) {
    if (bins.includes(tool)) problems.push(`dev tool present: node_modules/.bin/${tool}`);
  }
  for (const p of problems) console.error(`  ${p}`);
  if (problems.length) die(`node_modules is not the production set: ${problems.length} problem(s)`);
  const kept = Object.keys(manifest.devDependencies ?? {}).filter((n) => fs.existsSync(path.join(nodeModules, n)));
  note(`node_modules: all ${prod} required production packages present; none of the ${devOnly} development-only ` +
    `packages${kept.length ? ` (kept as dependencies of production packages: ${kept.join(', ')})` : ''}`);
}
