// The PostgreSQL binaries from npm, and their mirror for a server user who cannot reach node_modules (the
// service run by root from a clone under /root).
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { mirrorBinaries, postgresBinaries } from '../../src/db/postgres-binaries.js';

const run = promisify(execFile);

describe('the mirror of the PostgreSQL binaries', () => {
  const made: string[] = [];
  afterAll(async () => Promise.all(made.map((directory) => rm(directory, { recursive: true, force: true }))));

  it('holds the same files, linked where the filesystem allows, and is made once', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'whoop-sync-binaries-'));
    made.push(directory);
    await chmod(directory, 0o755);
    const binaries = await postgresBinaries();
    const mirrored = await mirrorBinaries(binaries, join(directory, 'postgres-binaries'));
    expect(mirrored.postgres).toBe(join(directory, 'postgres-binaries', binaries.version, 'bin/postgres'));
    const [original, copy] = await Promise.all([stat(binaries.postgres), stat(mirrored.postgres)]);
    expect(copy.mode).toBe(original.mode);
    if (copy.dev === original.dev) expect(copy.ino).toBe(original.ino);

    // It runs from there (its libraries and share/ are found relative to it), as the server's user when root.
    const asServer = process.getuid?.() === 0 ? await serverUser() : {};
    const { stdout } = await run(mirrored.postgres, ['--version'], asServer);
    expect(stdout).toMatch(/^postgres \(PostgreSQL\) \d+\.\d+/);
    const { stdout: initdb } = await run(mirrored.initdb, ['--version'], asServer);
    expect(initdb).toMatch(/^initdb \(PostgreSQL\) \d+\.\d+/);

    // A second call finds the mirror complete and leaves it as it is.
    const again = await mirrorBinaries(binaries, join(directory, 'postgres-binaries'));
    expect(again).toEqual(mirrored);
    expect((await stat(again.postgres)).ino).toBe(copy.ino);
  });
});

async function serverUser(): Promise<{ uid: number; gid: number }> {
  const { stdout } = await run('id', ['-u', 'postgres']).catch(() => run('id', ['-u', 'nobody']));
  const uid = Number(stdout.trim());
  const { stdout: gid } = await run('id', ['-g', String(uid)]);
  return { uid, gid: Number(gid.trim()) };
}
