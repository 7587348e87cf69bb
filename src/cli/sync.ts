// `npm run sync -- --days N`: one sync against the configured database, through the same engine as
// every other trigger. Prints the counts; exits non-zero with the reason on one line when it fails.
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { buildApp } from '../app.js';
import { ConfigError, loadConfig, readEnvironment } from '../config/config.js';
import { loggerOptions } from '../logger.js';
import { describeStartupFailure } from '../startup-failure.js';
import { RESOURCES } from '../sync/collections.js';
import { DEFAULT_DAYS, MAX_DAYS, MIN_DAYS, parseDays } from '../config/days.js';
import { plural } from '../util/plural.js';

const USAGE = `usage: npm run sync -- [--days N]   (a whole number, kept between ${MIN_DAYS} and ${MAX_DAYS}; default ${DEFAULT_DAYS})`;

function fail(message: string, code = 1): never {
  console.error(message);
  process.exit(code);
}

let days = DEFAULT_DAYS;
try {
  const { values } = parseArgs({ options: { days: { type: 'string', short: 'd' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (values.days !== undefined) {
    days = parseDays(values.days) ?? fail(`whoop-sync: --days must be a whole number (got "${values.days}")\n${USAGE}`, 2);
  }
} catch (error) {
  fail(`whoop-sync: ${(error as Error).message}\n${USAGE}`, 2);
}

let config;
try {
  // The printed result is the CLI's output; the service's log lines (on stderr) only when LOG_LEVEL asks
  // for them. A failure's stack trace is one of them, so an expected failure (no account connected, WHOOP
  // down) is one line unless LOG_LEVEL=debug.
  config = loadConfig({ LOG_LEVEL: 'fatal', ...readEnvironment(), SYNC_SCHEDULES: 'off' });
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  fail(error.problems.map((problem) => `whoop-sync: invalid configuration: ${problem}`).join('\n'));
}

const app = await buildApp(config, { logger: loggerOptions(config, 'stderr') }).catch((error: unknown) =>
  fail(`whoop-sync: start-up failed: ${describeStartupFailure(error)}`),
);
let exitCode = 0;
try {
  await app.whoop.seeded;
  const outcome = await app.sync.syncAll({ days, trigger: 'cli', requestedBy: userInfo().username });
  const { run } = outcome;
  const window = `${run.windowStart?.toISOString()} → ${run.windowEnd?.toISOString()}`;
  const synced = RESOURCES.some((name) => outcome.counts[name].upserted + outcome.counts[name].deleted > 0);
  if (outcome.status === 'succeeded') {
    console.log(`✅ synced the last ${plural(days, 'day')} (${window}) for ${plural(outcome.accounts, 'account')} in ${(outcome.durationMs / 1000).toFixed(1)} s`);
  } else if (synced) {
    console.log(`counts before the failure (${window}):`);
  }
  if (outcome.status === 'succeeded' || synced) {
    for (const name of RESOURCES) {
      const { upserted, deleted } = outcome.counts[name];
      console.log(`  ${name.padEnd(10)} ${String(upserted).padStart(5)} written ${String(deleted).padStart(5)} deleted`);
    }
  }
  if (outcome.status === 'failed') {
    console.error(`❌ sync failed: ${outcome.error}`);
    exitCode = 1;
  }
} catch (error) {
  console.error(`❌ sync failed: ${(error as Error).message}`);
  if (config.logLevel === 'debug' || config.logLevel === 'trace') console.error((error as Error).stack);
  exitCode = 1;
} finally {
  await app.close();
}
process.exit(exitCode);
