// `npm run sync -- --days N`: records a run like every other trigger and waits for its result. When a
// service runs on the same database, its worker executes the run; when none does, this process takes the
// worker lock and executes it itself. Prints the counts; exits non-zero with the reason on one line when
// it fails. `--all` (optionally `--since YYYY-MM-DD`) starts or resumes every member's whole-history
// backfill instead and waits until it is complete, printing its progress.
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildApp } from '../app.js';
import { ConfigError, loadConfig, readEnvironment } from '../config/config.js';
import { loggerOptions } from '../logger.js';
import { describeStartupFailure } from '../startup-failure.js';
import { RESOURCES } from '../sync/collections.js';
import { DEFAULT_DAYS, MAX_DAYS, MIN_DAYS, parseDays } from '../config/days.js';
import { plural } from '../util/plural.js';

const USAGE = `usage: npm run sync -- [--days N]   (a whole number, kept between ${MIN_DAYS} and ${MAX_DAYS}; default ${DEFAULT_DAYS})
       npm run sync -- --all [--since YYYY-MM-DD]   (every member's whole history, or back to that date)`;
/** How often `--all` prints its progress. */
const PROGRESS_MS = 10_000;
/** How often `--all` looks whether the history is complete. */
const POLL_MS = 500;

function fail(message: string, code = 1): never {
  console.error(message);
  process.exit(code);
}

let days = DEFAULT_DAYS;
let all = false;
let since: string | undefined;
try {
  const { values } = parseArgs({
    options: {
      days: { type: 'string', short: 'd' },
      all: { type: 'boolean' },
      since: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  all = Boolean(values.all) || values.since !== undefined;
  since = values.since;
  if (all && values.days !== undefined) fail(`whoop-sync: --days and --all/--since do not go together\n${USAGE}`, 2);
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
  // --since is checked as WHOOP_HISTORY_SINCE is.
  config = loadConfig({ LOG_LEVEL: 'fatal', ...readEnvironment(), SYNC_SCHEDULES: 'off', ...(since !== undefined ? { WHOOP_HISTORY_SINCE: since } : {}) });
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  fail(
    error.problems
      .map((problem) => (problem.startsWith('WHOOP_HISTORY_SINCE') && since !== undefined ? `whoop-sync: --since ${problem.slice('WHOOP_HISTORY_SINCE'.length).trim()}` : `whoop-sync: invalid configuration: ${problem}`))
      .join('\n'),
    since !== undefined && error.problems.some((problem) => problem.startsWith('WHOOP_HISTORY_SINCE')) ? 2 : 1,
  );
}

const app = await buildApp(config, { logger: loggerOptions(config, 'stderr'), sharedDatabase: true }).catch((error: unknown) =>
  fail(`whoop-sync: start-up failed: ${describeStartupFailure(error)}`),
);
let exitCode = 0;
try {
  await app.whoop.seeded;
  if (all) {
    exitCode = await wholeHistory(config.whoop.historySince);
    await app.close();
    process.exit(exitCode);
  }
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

/** Starts or resumes every member's whole-history backfill and waits for it; the exit code. */
async function wholeHistory(from: Date | undefined): Promise<number> {
  if ((await app.whoop.tokens.accounts()).length === 0) {
    console.error(`❌ no WHOOP account is connected yet: connect one at ${app.whoop.connectUrl}`);
    return 1;
  }
  await app.history.restart(from);
  app.worker.wake();
  console.log(`fetching every member's whole WHOOP history${from ? ` back to ${from.toISOString().slice(0, 10)}` : ''}, newest first…`);
  let printed = 0;
  for (;;) {
    // In this order: a collection the worker completes between the two reads then counts as complete, instead
    // of as incomplete with no page to fetch (which would read as an account to reconnect).
    const fetchable = await app.history.next();
    const summary = await app.history.summary();
    const line = summary.members
      .map((member) => `  member ${member.userId}: ${member.percent} % (${plural(member.pages, 'page')}, ${plural(member.records, 'record')}${member.reached ? `, back to ${member.reached}` : ''})`)
      .join('\n');
    if (summary.collectionsIncomplete === 0) {
      console.log(`✅ whole history stored:\n${line}`);
      return 0;
    }
    if (fetchable === undefined) {
      console.error(`❌ the history of some accounts cannot be fetched: they must be reconnected (${app.whoop.connectUrl})\n${line}`);
      return 1;
    }
    if (Date.now() - printed >= PROGRESS_MS) {
      console.log(line);
      printed = Date.now();
    }
    await sleep(POLL_MS, undefined, { signal: app.whoop.shutdownSignal }).catch(() => {});
  }
}
