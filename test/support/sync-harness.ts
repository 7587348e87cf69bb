// One connected account on a fresh environment, shared by the tests of a file; records and statistics
// are reset between tests.
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import type { Database } from '../../src/db/database.js';
import type { SyncOutcome } from '../../src/sync/engine.js';
import { startEnvironment, type Environment, type EnvironmentOptions } from './environment.js';
import { clearRecords } from './records.js';

export interface SyncHarness {
  env: Environment;
  userId: bigint;
  db(): Database;
  /** A sync through the engine's entry point, as the CLI triggers it. */
  sync(days: number): Promise<SyncOutcome>;
}

export function syncHarness(options: EnvironmentOptions): SyncHarness {
  const harness: SyncHarness = {
    env: undefined as unknown as Environment,
    userId: 0n,
    db: () => harness.env.app.app.db,
    sync: (days) => harness.env.app.app.sync.syncAll({ days, trigger: 'cli', requestedBy: 'test' }),
  };
  beforeAll(async () => {
    harness.env = await startEnvironment(options);
    expect((await harness.env.connect()).status).toBe(200);
    harness.userId = BigInt(harness.env.member.user_id);
  });
  afterEach(async () => {
    await clearRecords(harness.db());
    harness.env.whoop.resetStats();
  });
  afterAll(async () => harness.env?.close());
  return harness;
}
