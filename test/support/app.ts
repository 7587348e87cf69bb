// Builds the real app, on a real database, listening on a real port.
import type { FastifyInstance } from 'fastify';
import { buildApp, type AppOptions } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config/config.js';
import type { TestDatabase } from './database.js';

/**
 * A Config produced by the real loader from a test environment: schedules and the whole-history backfill on
 * connect are off unless a test sets them (test/sync/backfill.test.ts does), so that a test's WHOOP requests
 * and Slack messages are its own.
 */
export function testConfig(database: TestDatabase, env: Record<string, string | undefined> = {}): Config {
  return loadConfig({
    LOG_LEVEL: 'silent',
    SYNC_SCHEDULES: 'off',
    WHOOP_HISTORY_SINCE: 'off',
    HOST: '127.0.0.1',
    PORT: '0',
    ...database.env,
    ...env,
  });
}

export interface RunningApp {
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

export async function startApp(config: Config, options: AppOptions = { logger: false }): Promise<RunningApp> {
  const app = await buildApp(config, options);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('app did not bind a TCP port');
  return { app, url: `http://127.0.0.1:${address.port}`, close: () => app.close() };
}
