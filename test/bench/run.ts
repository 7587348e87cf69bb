// The benchmark suite: `npm run bench` (node --import tsx test/bench/run.ts).
//
//   1. ack        /sync acknowledged at 50 signed commands a second vs Bolt for JavaScript, same run (ack.ts)
//   2. backfill   a 365-day sync vs the lower bound WHOOP's pagination and latency impose
//   3. footprint  start-up time to /readyz 200 and idle RSS of the real server vs a bare Fastify server
//   4. freshness  WHOOP webhook arrival → change committed, vs the same change picked up by the next schedule
//   5. mcp        `trend` over 365 days and `correlate` over 3 years through POST /mcp, vs a bare SELECT 1
//   6. queue      a /sync 3 typed during a 365-day sync: its result vs the long sync's end (worker.ts)
//   7. budget     two service processes and the CLI on one database, counted by a rate-limiting fake WHOOP
//   8. history    ten members' three years fetched on connect at 100 requests/min, vs the bound the budget
//                 implies (history.ts); about 20 minutes, so only when named: BENCH_ONLY=history
//
// Everything runs on 127.0.0.1. The database is embedded PGlite, or a fresh database on the Postgres server
// named by TEST_DATABASE_URL (the footprint's Postgres row uses that server too, else the local default).
// Results are printed as tables; set BENCH_OUT=path to also write them as JSON. Every baseline is measured
// in the same run. A missed target is reported (MET / NOT MET) but is not an error; the process exits
// non-zero when a benchmark errored (non-2xx responses, connection errors, 429s, a failed sync, rows that do
// not match the acknowledgements...) or was interrupted. Servers, databases and temporary directories are
// removed in every case, also on SIGINT/SIGTERM.
//
// Optional environment: BENCH_ONLY=ack,backfill,footprint,freshness,mcp,queue,budget,history (a subset; the
// default is every part but history), BENCH_HISTORY_MEMBERS (default 10) and BENCH_HISTORY_DAYS (default 1095)
// for a quicker history check (the recorded result is the default's),
// BENCH_ACK_RATE (signed commands a second, default 50), BENCH_ACK_CONNECTIONS (default 8), BENCH_ACK_ROUNDS
// (rounds per server, default 3), BENCH_LOG_LEVEL (whoop-sync's log level in the ack benchmark; default info,
// what users run), BENCH_BACKFILL_WARMUP=0 (time the backfill on cold code paths), BENCH_WEBHOOK_EVENTS
// (freshness deliveries, default 300), BENCH_WEBHOOK_RATE (deliveries per second, default 0.6: within WHOOP's
// 100 requests/minute), BENCH_BUDGET_PER_MINUTE (the budget benchmark's lowered limit, default 20).
import { writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import type { Config } from '../../src/config/config.js';
import { PAGE_LIMIT as PAGE_RECORDS } from '../../src/whoop/api.js';
import { ackBenchmark, type AckResult } from './ack.js';
import type { LoadResult } from './load.js';
import { backfillBenchmark, WARMUP_DAYS, type BackfillResult } from './backfill.js';
import startTestServer from '../support/global-setup.js';
import { footprintBenchmark, type FootprintResult } from './footprint.js';
import { freshnessBenchmark, type FreshnessResult } from './freshness.js';
import { mcpBenchmark, type McpResult } from './mcp.js';
import { historyBenchmark, type HistoryResult } from './history.js';
import { budgetBenchmark, queueBenchmark, type BudgetResult, type QueueResult } from './worker.js';
import { assertLoopback, cleanupAll, interruption, machineInfo, table, type Cell, type MachineInfo, onCleanup } from './util.js';

const ACK = {
  rate: Number(process.env.BENCH_ACK_RATE || 50),
  connections: Number(process.env.BENCH_ACK_CONNECTIONS || 8),
  warmupSeconds: 2,
  durationSeconds: 12,
  rounds: Number(process.env.BENCH_ACK_ROUNDS || 3),
  text: '7',
  targetP99Ratio: 2,
  logLevel: (process.env.BENCH_LOG_LEVEL || 'info') as Config['logLevel'],
  drainTimeoutMs: 300_000,
};
const BACKFILL = { days: 365, historyDays: 400, workoutsPerDay: 2, latencyMs: 20, perMinute: 100, targetRatio: 1.3, warmup: process.env.BENCH_BACKFILL_WARMUP !== '0' };
const FOOTPRINT = { idleMs: 2_000, startTimeoutMs: 60_000, maxMcpIdlePssMiB: 200 };
const MCP = { historyDays: 3 * 365 + 35, calls: Number(process.env.BENCH_MCP_CALLS || 200), warmupCalls: 20 };
const QUEUE = { longDays: 365, shortDays: 3, historyDays: 400, latencyMs: 100, perMinute: 100, typedAfterRequests: 10 };
const BUDGET = {
  perMinute: Number(process.env.BENCH_BUDGET_PER_MINUTE || 20),
  days: 120,
  cliDays: 30,
  latencyMs: 20,
  killAfterRequests: 10,
};
const HISTORY = {
  members: Number(process.env.BENCH_HISTORY_MEMBERS || 10),
  days: Number(process.env.BENCH_HISTORY_DAYS || 3 * 365),
  workoutsPerDay: 1,
  latencyMs: 20,
  perMinute: 100,
  targetRatio: 1.05,
  syncDays: 3,
  typedAt: 0.5,
};
/** The parts run without BENCH_ONLY: history takes about 20 minutes and runs only when named. */
const DEFAULT_PARTS = 'ack,backfill,footprint,freshness,mcp,queue,budget';
const FRESHNESS = {
  events: Number(process.env.BENCH_WEBHOOK_EVENTS || 300),
  rate: Number(process.env.BENCH_WEBHOOK_RATE || 0.6),
  latencyMs: 20,
  perMinute: 100,
  targetP99Seconds: 2,
};

interface Report {
  machine: MachineInfo;
  startedAt: string;
  durationSeconds?: number;
  loadAverageAtEnd?: string;
  ack?: AckResult | { error: string };
  backfill?: BackfillResult | { error: string };
  footprint?: FootprintResult | { error: string };
  freshness?: FreshnessResult | { error: string };
  mcp?: McpResult | { error: string };
  queue?: QueueResult | { error: string };
  budget?: BudgetResult | { error: string };
  history?: HistoryResult | { error: string };
  problems: string[];
  ok?: boolean;
}

const round2 = (value: number) => Math.round(value * 100) / 100;
const progress = (line: string) => process.stderr.write(`· ${line}\n`);
const print = (text = '') => process.stdout.write(`${text}\n`);
const yesNo = (met: boolean) => (met ? 'MET' : 'NOT MET');

function printFreshness(result: FreshnessResult): void {
  print(`4. Freshness: ${result.events} signed WHOOP webhooks (re-scored sleeps and changed workouts) at ${FRESHNESS.rate}/s, ${FRESHNESS.latencyMs} ms per WHOOP request`);
  print();
  print(
    table(
      ['path', 'p50 s', 'p99 s', 'max s'],
      [
        ['webhook: arrival → row committed', result.webhook.p50, result.webhook.p99, result.webhook.max],
        [`next scheduled sync (08:00, 13:00; its 3-day sync ${result.schedule.syncSeconds} s)`, result.schedule.p50, result.schedule.p99, ''],
      ],
    ),
  );
  print(`target: webhook p99 <= ${FRESHNESS.targetP99Seconds} s: ${yesNo(result.met)}`);
}

function printAck(result: AckResult): void {
  print(
    `1. Ack guard: POST /slack/commands, ${ACK.rate} unique signed "/sync ${ACK.text}" a second, evenly spaced, on ${ACK.connections} keep-alive connections; ` +
      `${ACK.rounds} rounds alternating between the servers (${ACK.warmupSeconds} s warm-up + ${ACK.durationSeconds} s each; median round by p99); each at its default log level; fake WHOOP held`,
  );
  print();
  const row = (name: string, s: LoadResult): Cell[] => {
    const { p50, p90, p99, max } = s.latency;
    return [name, s.requestsPerSecond, p50, p90, p99, max, s.ok, s.non2xx, s.errors + s.timeouts];
  };
  print(
    table(
      ['server', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', '200s', 'non-2xx', 'errors'],
      [row(result.bolt.name, result.bolt.paced), row(result.ours.name, result.ours.paced), ['ratio whoop-sync / Bolt', undefined, result.p50Ratio, undefined, result.p99Ratio]],
    ),
  );
  print(`   Bolt p50/p99 ${result.bolt.paced.latency.p50}/${result.bolt.paced.latency.p99} ms; whoop-sync p50/p99 ${result.ours.paced.latency.p50}/${result.ours.paced.latency.p99} ms; p99 ratio ${result.p99Ratio}`);
  print(`   target: whoop-sync p99 <= ${ACK.targetP99Ratio}× Bolt's: ${yesNo(result.targetMet)}`);
  const p99s = (rounds: LoadResult[]) => rounds.map((each) => each.latency.p99).join(', ');
  print(`   p99 of each round, ms: Bolt ${p99s(result.bolt.rounds)}; whoop-sync ${p99s(result.ours.rounds)}`);
  const own = (rounds: LoadResult[]) => rounds.map((each) => (each.server ? `${each.server.requestTime.p99}` : '?')).join(', ');
  print(`   the server's own time per request (headers read → response handed to the OS), p99 of each round, ms: Bolt ${own(result.bolt.rounds)}; whoop-sync ${own(result.ours.rounds)}`);
  const a = result.app;
  print(
    `   sanity: sync_runs rows ${a.rows}, accepted by the server ${a.acceptedByServer}, 200s received ${a.ok} ` +
      `(+${a.inFlightAtStop} in flight when the generator stopped): ${a.rowsMatch ? 'consistent' : 'MISMATCH'}; ` +
      `after WHOOP was released they ran in ${a.drainSeconds} s${a.drained ? '' : ' (NOT drained)'} by ${a.whoopSyncs} WHOOP syncs, ${a.runsSucceeded} succeeded`,
  );
  print(`   logging: ${a.logLinesPerRequest} whoop-sync log lines per command at LOG_LEVEL=${a.logLevel}`);
}

function printQueue(result: QueueResult): void {
  print(
    `6. Queue: /sync ${QUEUE.shortDays} typed during a /sync ${QUEUE.longDays} (${result.database}), fake WHOOP ${QUEUE.latencyMs} ms per page, ` +
      `${QUEUE.perMinute}/min enforced, typed after ${QUEUE.typedAfterRequests} of the long sync's requests`,
  );
  print(
    `   long sync ${result.longSyncMs} ms (${result.longRequests} WHOOP requests); /sync ${QUEUE.shortDays} ✅ ${result.gapMs} ms after the long run's end ` +
      `(${result.gapInPages} pages of ${QUEUE.latencyMs} ms; its execution sent ${result.shortRequests} requests); 429s ${result.rateLimited}`,
  );
  print(
    `   where the gap went: ${result.pickupMs} ms to the worker taking the run, ${result.shortSyncMs} ms its execution ` +
      `(WHOOP first request → last answer ${result.shortWhoopMs} ms), ${result.deliveryMs} ms to the ✅ at the fake Slack ` +
      `(of which the message's read of the latest values, timed afterwards: ${result.latestValuesMs} ms)`,
  );
  print(`   the /sync ${QUEUE.shortDays} execution's WHOOP requests, sent → answered, ms after the long run's end: ${result.shortTimeline}`);
  print(`   target: within one page's wait of the long sync's end (gap <= 2 × ${QUEUE.latencyMs} ms: the page, and what the service adds around it): ${yesNo(result.targetMet)}`);
}

function printBudget(result: BudgetResult): void {
  print(
    `7. Budget: two service processes + npm run sync (dist/cli/sync.js) on one database (${result.database}); the worker SIGKILLed mid-sync and started again; ` +
      `limit LOWERED to ${result.perMinute}/min (WHOOP_RATE_LIMIT_PER_MINUTE at the service and at the fake WHOOP, which answers 429 beyond it)`,
  );
  print(
    `   WHOOP API requests ${result.apiRequests} in ${result.wallSeconds} s; max in any 60 s window ${result.peakPerMinute} (limit ${result.perMinute}); 429s ${result.rateLimited}; ` +
      `takeover after the kill ${result.takeoverMs === undefined ? 'not by the second process within 30 s (the waiting CLI runs a worker too, and may take the lock first)' : `${result.takeoverMs} ms`}`,
  );
  print(`   results: ${result.results.join(' | ')}; CLI: ${result.cli}`);
  print(`   target: max in any 60 s <= ${result.perMinute} and no 429: ${yesNo(result.targetMet)}`);
}

function printBackfill(result: BackfillResult): void {
  print(
    `2. Backfill: sync ${BACKFILL.days} days (${result.database}), fake WHOOP ${BACKFILL.latencyMs} ms per request, ` +
      `${BACKFILL.perMinute}/min enforced, ${BACKFILL.workoutsPerDay} workouts/day;`,
  );
  print(`   member connected before timing${result.warmedUp ? `; after an untimed ${WARMUP_DAYS}-day warm-up sync (warm JIT, validators and queries, as in a running service)` : '; no warm-up (cold code paths)'}`);
  print();
  print(
    table(
      ['metric', 'measured', 'bound', 'ratio', 'target', 'verdict'],
      [
        ['wall time ms', result.wallMs, result.lowerBoundMs, result.wallRatio, `≤ ${BACKFILL.targetRatio}×`, yesNo(result.targetMet)],
        ['WHOOP API requests', result.requests, result.minRequests, result.requestRatio, '', ''],
        ['429 responses', result.rateLimited, 0, undefined, '0', result.rateLimited === 0 ? 'OK' : 'FAILED'],
      ],
    ),
  );
  print();
  print(
    table(
      ['collection', 'records', 'min pages', 'requests', 'stored'],
      result.collections.map((c) => [c.collection, c.records, c.minPages, c.requests, result.stored[c.collection]]),
    ),
  );
  const b = result.breakdown;
  print(`   lower bound = longest page chain × ${BACKFILL.latencyMs} ms; min requests = Σ pages + 2; max concurrent WHOOP requests ${result.maxConcurrentRequests}`);
  print(
    `   where the time went: ${b.setupMs} ms before the first WHOOP request, ${b.longestChainMs} ms longest page chain ` +
      `(${b.perPageOverheadMs} ms per page beyond the ${BACKFILL.latencyMs} ms latency: ${b.whoopPerPageOverheadMs} ms in the fake WHOOP, ` +
      `which prepares each page while the ${BACKFILL.latencyMs} ms run and answers when its timer fires, never earlier (the timer's lateness, under 1 ms, is this share), ` +
      `${(b.perPageOverheadMs - b.whoopPerPageOverheadMs).toFixed(1)} ms in whoop-sync and on the loopback), ${b.tailMs} ms after its last answer;`,
  );
  print(`   CPU time of the benchmark process during the sync (the service, and PGlite when embedded; the fake WHOOP has its own process): ${b.cpuMs} ms`);
  print(
    `   the service's main-thread event-loop delay during the sync, p99/max: ${result.loopDelay.p99}/${result.loopDelay.max} ms ` +
      '(how long a Slack command or health check arriving meanwhile could wait behind the sync)',
  );
}

function printHistory(r: HistoryResult): void {
  print(
    `8. History: ${r.members} members × ${r.days} days (${r.records} records) connected to the service process (${r.database}), whole-history backfill on connect; ` +
      `fake WHOOP ${HISTORY.latencyMs} ms per request, ${r.perMinute}/min enforced`,
  );
  print(
    `   wall time first connect → every history complete ${round2(r.wallMs / 60_000)} min; budget bound ${r.requests} requests ÷ ${r.backfillPerMinute}/min (the backfill's share of ${r.perMinute}) = ` +
      `${round2(r.boundMs / 60_000)} min; ratio ${r.wallRatio} (target ≤ ${HISTORY.targetRatio}×): ${yesNo(r.targetMet)}`,
  );
  if (r.requests <= 2 * r.perMinute) print(`   (under two minutes' budget the bound means little: the first ${r.perMinute} requests may go at once)`);
  print(
    `   requests ${r.requests}: history pages ${r.historyPages} (minimum ${r.minHistoryPages}), profile + body ${r.profileRequests} (minimum ${r.minProfileRequests}), ` +
      `the typed /sync ${HISTORY.syncDays}'s ${r.syncRequests} (its profile + body included); ratio to the minimum ${r.requestRatio}; 429s ${r.rateLimited}; max in any 60 s ${r.peakPerMinute}`,
  );
  print(`   by path: ${Object.entries(r.byPath).map(([path, n]) => `${path.replace('/developer/v2/', '')} ${n}`).join(', ')}`);
  print(
    `   /sync ${HISTORY.syncDays} typed halfway (after ${r.syncDuringTypedAfterRequests} requests) → ✅ ${r.syncDuringMs} ms; the same with nothing running ` +
      `${r.syncIdleMs} ms (median of ${r.syncIdleRuns.join(', ')}); ratio ${r.syncRatio}`,
  );
}

function printFootprint(result: FootprintResult): void {
  print(`3. Footprint: spawn → first GET /readyz 200; PSS of the process tree (node + its postgres) after ${FOOTPRINT.idleMs / 1000} s idle and at its peak during /sync 365`);
  print();
  print(
    table(
      ['server', 'ready ms', '× bare', 'processes', 'idle PSS MiB', '× bare', '/sync 365 peak PSS MiB', '/sync 365 ms', 'note'],
      result.rows.map((r) =>
        r.skipped
          ? [r.name, undefined, undefined, undefined, undefined, undefined, undefined, undefined, r.skipped]
          : [
              r.name, r.readyMs, r.readyRatio, r.processes, r.idlePssMiB,
              r.pssRatio, r.syncPeakPssMiB, r.syncMs, undefined,
            ],
      ),
    ),
  );
  if (result.mcp) {
    print(`   guard: the embedded default's idle PSS with the MCP server enabled ${result.mcp.idlePssMiB} MiB ≤ ${result.mcp.limitMiB} MiB: ${yesNo(result.mcp.met)}`);
  }
}

function printMcp(result: McpResult): void {
  print(`5. MCP: POST /mcp through the SDK's client (one HTTP request per call), ${result.historyDays} days of history; ${result.calls} calls each after a warm-up`);
  print();
  print(
    table(
      ['call', 'p50 ms', 'p99 ms', 'max ms', 'p50 × SELECT 1', 'p99 × SELECT 1'],
      [
        ['SELECT 1 on the app\'s pool (baseline)', result.selectOne.p50, result.selectOne.p99, result.selectOne.max, 1, 1],
        ['tools/list (the protocol and a server per request, no SQL)', result.listTools.p50, result.listTools.p99, result.listTools.max, round2(result.listTools.p50 / result.selectOne.p50), round2(result.listTools.p99 / result.selectOne.p99)],
        ['trend hrv_ms, 365 days', result.trend365.p50, result.trend365.p99, result.trend365.max, result.ratios.trendP50, result.ratios.trendP99],
        ['correlate day_strain → recovery_pct +1 day, 3 years', result.correlate3y.p50, result.correlate3y.p99, result.correlate3y.max, result.ratios.correlateP50, result.ratios.correlateP99],
      ],
    ),
  );
  const sql = (l: { p50: number; p99: number }) => `${l.p50}/${l.p99} ms`;
  print(`   the same questions' SQL alone on the pool, p50/p99: trend ${sql(result.trendSql)}, correlate ${sql(result.correlateSql)}`);
  print(`   WHOOP requests during the timed calls: ${result.whoopRequestsDuringCalls}`);
}

async function main(): Promise<number> {
  const started = Date.now();
  if (process.env.TEST_DATABASE_URL) assertLoopback(process.env.TEST_DATABASE_URL, 'TEST_DATABASE_URL');
  const only = new Set((process.env.BENCH_ONLY || DEFAULT_PARTS).split(',').map((s) => s.trim()));
  // The in-process benchmarks' databases: on the embedded server vitest's globalSetup would start.
  const stopTestServer = await startTestServer();
  if (stopTestServer) onCleanup('the embedded test server', stopTestServer);
  const machine = await machineInfo();
  const report: Report = { machine, startedAt: new Date(started).toISOString(), problems: [] };

  print('whoop-sync benchmarks');
  print(`machine:  ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.platform}`);
  print(`node:     ${machine.node}`);
  print(`load:     ${machine.loadAverage} (1/5/15 min load average at start)${machine.busy ? ' - WARNING: the machine is busy, expect noisy results' : ''}`);
  print(`database: ${machine.database}${machine.postgresVersion ? `; local Postgres ${machine.postgresVersion}` : ''}`);
  if (only.has('history')) {
    const minutes = Math.ceil((HISTORY.members * HISTORY.days * 4.3) / PAGE_RECORDS / HISTORY.perMinute);
    print(`history:  ${HISTORY.members} members × ${HISTORY.days} days at ${HISTORY.perMinute} requests/min: this part alone takes about ${minutes + 4} minutes`);
  } else {
    print('parts:    ' + [...only].join(', ') + ' (the 20-minute history part runs only with BENCH_ONLY=history)');
  }
  print();

  const run = async <T extends { problems: string[] }>(key: 'ack' | 'backfill' | 'footprint' | 'freshness' | 'mcp' | 'queue' | 'budget' | 'history', fn: () => Promise<T>, show: (result: T) => void) => {
    if (!only.has(key)) return;
    if (interruption.requested) {
      report.problems.push(`${key}: not run (interrupted)`);
      return;
    }
    try {
      const result = await fn();
      report[key] = result as never;
      report.problems.push(...result.problems);
      show(result);
    } catch (error) {
      const message = (error as Error).stack ?? String(error);
      report[key] = { error: message };
      report.problems.push(`${key}: ${(error as Error).message}`);
      print(`${key}: ERROR ${(error as Error).message}`);
    }
    print();
  };

  // The ack benchmark goes last: its thousands of accepted runs leave background work (result messages cut
  // off at shutdown) whose CPU would otherwise leak into the benchmarks after it.
  await run('backfill', () => backfillBenchmark(BACKFILL, progress), printBackfill);
  await run('footprint', () => footprintBenchmark(FOOTPRINT, progress), printFootprint);
  await run('freshness', () => freshnessBenchmark(FRESHNESS, progress), printFreshness);
  await run('mcp', () => mcpBenchmark(MCP, progress), printMcp);
  await run('queue', () => queueBenchmark(QUEUE, progress), printQueue);
  await run('budget', () => budgetBenchmark(BUDGET, progress), printBudget);
  await run('history', () => historyBenchmark(HISTORY, progress), printHistory);
  await run('ack', () => ackBenchmark(ACK, progress), printAck);

  report.durationSeconds = Math.round((Date.now() - started) / 1000);
  report.loadAverageAtEnd = loadavg().map((n) => n.toFixed(2)).join(' ');
  print(`load average at end: ${report.loadAverageAtEnd}`);
  report.ok = report.problems.length === 0;
  if (report.problems.length > 0) {
    print('PROBLEMS (the benchmark run failed):');
    for (const problem of report.problems) print(`  - ${problem}`);
  } else {
    print(`all benchmarks completed without errors in ${report.durationSeconds} s`);
  }
  if (process.env.BENCH_OUT) {
    await writeFile(process.env.BENCH_OUT, `${JSON.stringify(report, null, 2)}\n`);
    print(`results written to ${process.env.BENCH_OUT}`);
  }
  return interruption.requested ? 130 : report.ok ? 0 : 1;
}

// On SIGINT/SIGTERM: tear down what is running now (which makes the current benchmark fail fast), start
// nothing new, and let main() finish so that whatever it still registered is cleaned up too. A second
// signal, or 60 s without finishing, cleans up once more and exits at once.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interruption.requested) {
      void cleanupAll().finally(() => process.exit(130));
      return;
    }
    interruption.requested = true;
    console.error(`bench: ${signal}: stopping and cleaning up`);
    void cleanupAll();
    setTimeout(() => void cleanupAll().finally(() => process.exit(130)), 60_000).unref();
  });
}

void main()
  .catch((error: unknown) => {
    console.error(`bench: ${(error as Error).stack ?? String(error)}`);
    return 1;
  })
  .then(async (code) => {
    await cleanupAll();
    // Pools, timers and sockets of closed apps must not keep the process alive: exit explicitly.
    process.exit(code);
  });
