// The real app for in-process benchmarks: a fresh test database (PGlite, or Postgres when TEST_DATABASE_URL
// is set), a fake WHOOP with one connected member, a fake Slack, and buildApp() listening on 127.0.0.1.
// Unlike test/support/environment.ts (which silences logs), the app logs the way users run it: level
// `info` (the production default), JSON lines, written synchronously like stdout to a pipe, to a file
// that is deleted afterwards.
import { closeSync, openSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../../src/config/config.js';
import { loggerOptions } from '../../src/logger.js';
import { startFakeSlack, type FakeSlack } from '../fakes/slack-server.js';
import { startFakeWhoop, type FakeWhoop, type FakeWhoopOptions, type GenerateOptions, type Member } from '../fakes/whoop-server.js';
import { startApp, testConfig, type RunningApp } from '../support/app.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { connect as connectMember, fakesEnv } from '../support/environment.js';
import { checkInterrupted, onCleanup } from './util.js';

export interface BenchEnvironment {
  db: TestDatabase;
  whoop: FakeWhoop;
  slack: FakeSlack;
  member: Member;
  config: Config;
  app: RunningApp;
  logFile: string;
  /** Log lines and bytes written so far. */
  logStats(): { lines: number; bytes: number };
  /** Closes the app, the fakes and drops the database (also registered as a cleanup step). */
  close(): Promise<void>;
}

export interface BenchEnvironmentOptions {
  whoop?: FakeWhoopOptions;
  generate: Omit<GenerateOptions, 'seed'>;
  /** LOG_LEVEL for the app (default `info`, the production default). */
  logLevel?: Config['logLevel'];
  /** Extra pino options merged into the app's logger options (for investigations, e.g. `hooks`). */
  loggerOverrides?: Record<string, unknown>;
  /** Further configuration variables for the app. */
  env?: Record<string, string>;
}

export async function startBenchEnvironment(options: BenchEnvironmentOptions): Promise<BenchEnvironment> {
  checkInterrupted();
  const db = await createTestDatabase();
  const dropDb = onCleanup('test database', () => db.drop());
  checkInterrupted();
  const whoop = await startFakeWhoop(options.whoop);
  const closeWhoop = onCleanup('fake WHOOP', () => whoop.close());
  const slack = await startFakeSlack();
  const closeSlack = onCleanup('fake Slack', () => slack.close());
  const member = whoop.addMember({ first_name: 'Jo', last_name: 'Tester', email: 'jo@example.com' });
  whoop.generate(member.user_id, { ...options.generate, seed: 7 });

  const config = testConfig(db, { ...fakesEnv(whoop, slack), LOG_LEVEL: options.logLevel ?? 'info', ...options.env });
  const { app, logFile, logStats, close: closeApp } = await startLoggedApp(db, config, options.loggerOverrides);
  checkInterrupted();

  await connect(app, whoop, member);

  return {
    db,
    whoop,
    slack,
    member,
    config,
    app,
    logFile,
    logStats,
    async close() {
      await closeApp();
      await closeSlack();
      await closeWhoop();
      await dropDb();
    },
  };
}

export interface LoggedApp {
  app: RunningApp;
  logFile: string;
  /** Log lines and bytes written so far. */
  logStats(): { lines: number; bytes: number };
  /** Closes the app and its log (also registered as a cleanup step). */
  close(): Promise<void>;
}

/**
 * buildApp() listening on 127.0.0.1 and logging the way users run it (JSON lines at the configured level,
 * written synchronously like stdout to a pipe) to a file in the database's temporary directory, which
 * dropping the database removes.
 */
export async function startLoggedApp(
  db: TestDatabase,
  config: Config,
  loggerOverrides?: Record<string, unknown>,
): Promise<LoggedApp> {
  const logFile = join(db.dataDir, 'app.log');
  const fd = openSync(logFile, 'a');
  let lines = 0;
  const stream = {
    write(line: string) {
      lines++;
      writeSync(fd, line);
    },
  };
  const { transport: _transport, ...base } = loggerOptions(config) as Record<string, unknown>;
  const app = await startApp(config, { logger: { ...base, ...loggerOverrides, stream } as never });
  const close = onCleanup('app', async () => {
    await app.close();
    closeSync(fd);
  });
  return { app, logFile, logStats: () => ({ lines, bytes: statSync(logFile).size }), close };
}

/** Connects the member through the real OAuth flow (as test/support/environment.ts does). */
async function connect(app: RunningApp, whoop: FakeWhoop, member: Member): Promise<void> {
  const done = await connectMember(app.url, whoop, member);
  await done.text();
  if (done.status !== 200) throw new Error(`connecting the WHOOP member failed: /oauth/whoop/callback answered ${done.status}`);
  const accounts = await app.app.whoop.tokens.accounts();
  if (accounts.length !== 1) throw new Error(`expected one connected WHOOP account, found ${accounts.length}`);
}
