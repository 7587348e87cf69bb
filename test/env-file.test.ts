// `.env` in the working directory, as `cp .env.example .env` invites: read by the service and the CLI at
// start, with variables already in the environment taking precedence.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './support/database.js';
import { runSyncCli, startServerProcess } from './support/server-process.js';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('.env in the working directory', () => {
  let testDb: TestDatabase;
  let cwd: string;

  beforeAll(async () => {
    testDb = await createTestDatabase();
    cwd = await mkdtemp(join(tmpdir(), 'whoop-sync-dotenv-'));
  });
  afterAll(async () => {
    await testDb?.drop();
    await rm(cwd, { recursive: true, force: true });
  });

  it('configures the service (PORT from .env); a variable set in the environment wins over the file', async () => {
    const port = await freePort();
    await writeFile(
      join(cwd, '.env'),
      [
        '# as copied from .env.example and edited',
        `PORT=${port}`,
        'HOST=127.0.0.1',
        // Invalid: the service would refuse to start, were the file's value used.
        'SYNC_TIMEZONE=Nowhere/Atlantis',
        `DATABASE_URL=${testDb.databaseUrl}`,
        '',
      ].join('\n'),
    );
    const server = startServerProcess({ PORT: undefined, HOST: undefined, SYNC_TIMEZONE: 'UTC' }, cwd);
    try {
      expect(await server.listening(60_000)).toBe(`http://127.0.0.1:${port}`);
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    } finally {
      expect((await server.stop()).code).toBe(0);
    }
  }, 90_000);

  it('is read by `npm run sync` too', async () => {
    await writeFile(join(cwd, '.env'), 'SYNC_TIMEZONE=Nowhere/Atlantis\n');
    const result = await runSyncCli(['--days', '1'], {}, cwd);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(
      'whoop-sync: invalid configuration: SYNC_TIMEZONE: must be an IANA time zone such as UTC or Europe/Berlin',
    );
  });

  it('an unreadable .env stops start-up with a line naming it', async () => {
    await rm(join(cwd, '.env'));
    await mkdir(join(cwd, '.env'));
    const server = startServerProcess({}, cwd);
    expect((await server.exited).code).toBe(1);
    expect(server.output().trim()).toMatch(/^whoop-sync: invalid configuration: \.env: cannot be read \(.+\)$/);
    await rm(join(cwd, '.env'), { recursive: true });
  });
});
