// The Docker build context: the files of the source copy that .dockerignore admits, matched with Docker's
// rules by @balena/dockerignore (a port of moby's matcher). Scratch secrets and build leftovers are planted in
// the source copy first, so the check proves that .dockerignore keeps them out, not merely that they are absent.
import fs from 'node:fs';
import path from 'node:path';
import { die, dockerignore, du, note, recordFacts, walk, workDir } from './util.js';

const SCRATCH = [
  '.env', '.env.local', '.env.production', 'data/x', 'data/postgres/PG_VERSION', 'node_modules/scratch/index.js',
  'dist/server.js', 'src/generated/prisma/client.ts', 'secret.pem', 'tls.key', 'prisma/server.pem', 'src/db/.env',
  'src/db/client.key', '.git/config', 'coverage/index.html', 'npm-debug.log', '.vscode/settings.json',
];
// Whatever else is admitted must not look like a secret, an install or a build output.
const LEAK = /(^|\/)\.env($|\.)|(^|\/)node_modules\/|^data\/|^test\/|^dist\/|^src\/generated\/|^\.git\/|\.(pem|key)$/;
const NEEDED = [
  'package.json', 'package-lock.json', 'prisma.config.ts', 'tsconfig.json', 'tsconfig.build.json',
  'prisma/schema.prisma', 'src/server.ts', 'public/dashboard.js',
];

export function context([source, out]: string[]): void {
  if (!source || !out) die('usage: context SOURCE OUT');
  const ignoreFile = path.join(source, '.dockerignore');
  if (!fs.existsSync(ignoreFile)) die('.dockerignore is missing');
  for (const file of SCRATCH) {
    fs.mkdirSync(path.join(source, path.dirname(file)), { recursive: true });
    fs.writeFileSync(path.join(source, file), 'IMAGE_CHECK_SCRATCH_SECRET=do-not-ship\n');
  }
  const lines = fs.readFileSync(ignoreFile, 'utf8').split(/\r?\n/);
  const rules = dockerignore(lines);
  // For messages only: the last single line that excludes the file on its own.
  const excludedBy = (file: string): string =>
    lines.findLast((l) => !l.trim().startsWith('!') && dockerignore([l]).ignores(file)) ?? '?';

  const files = walk(source);
  const admitted = files.filter((file) => !rules.ignores(file));
  const admittedSet = new Set(admitted);
  fs.mkdirSync(out, { recursive: true });
  for (const file of admitted) {
    fs.mkdirSync(path.join(out, path.dirname(file)), { recursive: true });
    fs.cpSync(path.join(source, file), path.join(out, file), { verbatimSymlinks: true, preserveTimestamps: true });
  }
  const verdicts = files.map((f) => (admittedSet.has(f) ? `admitted\t${f}` : `excluded\t${f}\t(${excludedBy(f)})`));
  fs.writeFileSync(path.join(workDir(), 'context-verdicts.txt'), verdicts.join('\n') + '\n');
  note(`${admitted.length} of ${files.length} files admitted into the build context`);

  for (const file of SCRATCH) if (admittedSet.has(file)) die(`.dockerignore admits ${file} into the build context`);
  const leaks = admitted.filter((f) => LEAK.test(f) && f !== '.env.example');
  if (leaks.length) die(`these files would enter the build context: ${leaks.join(' ')}`);
  for (const file of NEEDED) {
    if (!admittedSet.has(file)) die(`.dockerignore excludes ${file}, which the build needs (line "${excludedBy(file)}")`);
  }
  if (!admitted.some((f) => /^prisma\/migrations\/[^/]+\/migration\.sql$/.test(f))) {
    die('no migration reaches the build context');
  }
  note(`all ${SCRATCH.length} scratch secrets and leftovers excluded; no .env, data/, node_modules, test/, dist/, ` +
    '*.pem or *.key admitted');
  note(`context: ${admitted.length} files, ${du(out)}`);
  recordFacts({ contextFiles: admitted.length });
}
