// Every test file gets its own freshly created database on one PostgreSQL server per test run: the server
// named by TEST_DATABASE_URL when it is set, otherwise the embedded server that test/support/global-setup.ts
// starts for the run (the same code the service runs by default).
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/** The server of this test run. */
function testServerUrl(): string {
  const url = process.env.TEST_DATABASE_URL || process.env.WHOOP_SYNC_TEST_SERVER_URL;
  if (!url) throw new Error('no test database server: run the tests through vitest (its globalSetup starts one), or set TEST_DATABASE_URL');
  return url;
}

export interface TestDatabase {
  /** Environment that points the service at this database. */
  env: { DATABASE_URL: string; DATA_DIR: string };
  databaseUrl: string;
  dataDir: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const dataDir = await mkdtemp(join(tmpdir(), 'whoop-sync-test-'));
  const name = `whoop_sync_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  await adminQuery(`CREATE DATABASE "${name}"`);
  const url = new URL(testServerUrl());
  url.pathname = `/${name}`;
  const databaseUrl = url.toString();
  return {
    env: { DATABASE_URL: databaseUrl, DATA_DIR: dataDir },
    databaseUrl,
    dataDir,
    drop: async () => {
      await adminQuery(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: testServerUrl() });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
