// The service as a user starts it: the real entry point in a child process, configured only by its
// environment.
import { chmod, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/database.js';
import { startServerProcess } from './support/server-process.js';

describe('the service process', { timeout: 120_000 }, () => {
  let cwd: string;
  // The service's embedded default: no DATABASE_URL, its own PostgreSQL server in ./data under its working
  // directory.
  const env = () => ({}) as Record<string, string>;

  beforeAll(async () => {
    cwd = await mkdtemp(join(tmpdir(), 'whoop-sync-cwd-'));
    await chmod(cwd, 0o755); // run as root, the server's own user must reach ./data (mkdtemp makes it 0700)
  });
  afterAll(async () => {
    await rm(cwd, { recursive: true, force: true });
  });

  it('exits 1 with one line per invalid variable', async () => {
    const server = startServerProcess({ PORT: 'eighty', SYNC_TIMEZONE: 'Nowhere/Atlantis' }, cwd);
    const { code } = await server.exited;
    expect(code).toBe(1);
    const lines = server.output().trim().split('\n');
    expect(lines).toEqual([
      'whoop-sync: invalid configuration: PORT: must be a number',
      'whoop-sync: invalid configuration: SYNC_TIMEZONE: must be an IANA time zone such as UTC or Europe/Berlin',
    ]);
  });

  it('starts with no configuration, creates its database, serves /healthz, and shuts down gracefully', async () => {
    const server = startServerProcess(env(), cwd);
    const url = await server.listening(60_000);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    expect(server.output()).toMatch(/applied \d+ migration\(s\)/);
    expect(await readdir(join(cwd, 'data'))).toContain('postgres');
    const { code } = await server.stop('SIGTERM');
    expect(code).toBe(0);
    expect(server.output()).toContain('"msg":"shutting down"');
    expect(server.output()).toContain('"msg":"database closed"');
  });

  it('reuses its database on the next start', async () => {
    const server = startServerProcess(env(), cwd);
    const url = await server.listening(60_000);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect(server.output()).toContain('database schema is up to date');
    expect((await server.stop()).code).toBe(0);
  });

  it('refuses to start when an applied migration was changed, naming the migration', async () => {
    const db = await openDatabase({ databaseUrl: undefined, dataDir: join(cwd, 'data') });
    const [row] = await db.prisma.$queryRaw<{ migration_name: string }[]>`
      UPDATE "_prisma_migrations" SET checksum = ${'0'.repeat(64)} RETURNING migration_name`;
    await db.close();
    const server = startServerProcess(env(), cwd);
    const { code } = await server.exited;
    expect(code).toBe(1);
    expect(server.output()).toContain(`whoop-sync: start-up failed: Migration ${row!.migration_name} was modified after it was applied`);
  });
});
