// vitest globalSetup: unless TEST_DATABASE_URL names a server, one embedded PostgreSQL server for the whole
// test run (each test file creates its own database on it, see database.ts). It is a throwaway: no fsync.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openEmbeddedServer } from '../../src/db/embedded-server.js';
import { compileService } from './compiled.js';

export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  // Child-process tests start the compiled service, as `npm start` does: dist/ must match src/.
  compileService();
  if (process.env.TEST_DATABASE_URL) return undefined;
  const dataDir = await mkdtemp(join(tmpdir(), 'whoop-sync-test-server-'));
  await chmod(dataDir, 0o755); // run as root, the server's own user must reach it (mkdtemp makes it 0700)
  const server = await openEmbeddedServer({ dataDir, maxConnections: 400, durable: false });
  // Test files run in child processes, which inherit this environment.
  process.env.WHOOP_SYNC_TEST_SERVER_URL = server.url;
  return async () => {
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
}
