// What the built image holds in its application directory, copied out of it (`docker cp CONTAINER:/app`):
//
//   node --import tsx .ci/image/contents.ts APP_DIR REPO
//
// Exactly dist/, node_modules/, prisma/migrations/, public/, package.json and the empty data/ volume; no .env,
// no sources or tests, and source maps without sources, outside node_modules; node_modules the production set
// of the lock file.
import fs from 'node:fs';
import path from 'node:path';

function fail(message: string): never {
  console.error(`image-check: FAIL: ${message}`);
  process.exit(1);
}

const [app, repo] = process.argv.slice(2);
if (!app || !repo) fail('usage: contents.ts APP_DIR REPO');
const ls = (dir: string): string => fs.readdirSync(path.join(app, dir)).sort().join(' ');

const top = ls('.');
console.log(`  /app holds: ${top}`);
if (top !== 'data dist node_modules package.json prisma public') fail(`unexpected contents of /app: ${top}`);
if (ls('prisma') !== 'migrations') fail(`/app/prisma holds ${ls('prisma')}, expected only migrations`);
if (ls('data') !== '') fail(`the data volume of a new container is not empty: ${ls('data')}`);
if (!fs.existsSync(path.join(app, 'dist/server.js'))) fail('dist/server.js is missing');
if (!fs.readFileSync(path.join(app, 'package.json')).equals(fs.readFileSync(path.join(repo, 'package.json')))) {
  fail("/app/package.json differs from the repository's");
}

// Outside node_modules: no environment or key files, sources or tests; source maps only as tsc writes them,
// without the sources (`sourcesContent`), so that they point at files the image does not have.
const stray: string[] = [];
let maps = 0;
for (const top of fs.readdirSync(app).filter((name) => name !== 'node_modules')) {
  const files = fs.statSync(path.join(app, top)).isDirectory()
    ? fs.readdirSync(path.join(app, top), { recursive: true, encoding: 'utf8' }).map((rel) => path.join(top, rel))
    : [top];
  for (const rel of files) {
    const name = path.basename(rel);
    if (/^\.env|\.(pem|key|p12|pfx)$|\.test\.|^(src|test|tests|bench)$/.test(name) || (/\.ts$/.test(name) && !name.endsWith('.d.ts'))) {
      stray.push(rel);
    } else if (name.endsWith('.map')) {
      maps++;
      if ('sourcesContent' in JSON.parse(fs.readFileSync(path.join(app, rel), 'utf8'))) stray.push(`${rel} (with sources)`);
    }
  }
}
if (stray.length) fail(`the image holds: ${stray.join(' ')}`);

// The lock file marks what a production install leaves out: `dev` and `devOptional` entries (a devDependency
// that a production package lists as an optional peer, such as prisma and typescript for @prisma/client).
type Lock = { packages: Record<string, { dev?: boolean; devOptional?: boolean; optional?: boolean }> };
const lock = JSON.parse(fs.readFileSync(path.join(repo, 'package-lock.json'), 'utf8')) as Lock;
const problems: string[] = [];
let devOnly = 0;
let prod = 0;
for (const [key, meta] of Object.entries(lock.packages)) {
  if (!key) continue;
  const present = fs.existsSync(path.join(app, key));
  if (meta.dev || meta.devOptional) {
    devOnly++;
    if (present) problems.push(`development package present: ${key}`);
  } else if (!meta.optional) {
    prod++;
    if (!present) problems.push(`production package missing: ${key}`);
  }
}
if (problems.length) fail(`node_modules is not the production set:\n  ${problems.join('\n  ')}`);
const binDir = path.join(app, 'node_modules/.bin');
const bins = fs.existsSync(binDir) ? fs.readdirSync(binDir) : [];
for (const tool of ['prisma', 'tsc', 'tsx', 'vitest', 'esbuild', 'eslint', 'knip']) {
  if (bins.includes(tool)) fail(`node_modules/.bin/${tool} is in the image`);
}
console.log(`  node_modules: all ${prod} production packages of the lock file, none of its ${devOnly} development ones; ` +
  `outside node_modules no .env, key file, source or test, and ${maps} source maps without sources`);
