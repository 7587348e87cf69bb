// Benchmarks 6 and 7, the one worker under WHOOP's budget.
//
//   6. queue   a `/sync 3` typed while a 365-day sync runs is answered (✅ at the fake Slack) within one page's
//              wait of the running sync's end: the worker takes it as soon as the long execution ends, and
//              a 3-day sync is one page per collection, read concurrently. Printed: the gap between the long
//              run's end and the /sync 3 result, against the fake WHOOP's latency per page.
//   7. budget  two service processes and `npm run sync` (the compiled CLI) on one database, with the worker
//              killed in the middle of a sync and started again: the fake WHOOP, enforcing the per-minute limit
//              across everything and answering 429 beyond it as WHOOP does, counts the most requests it saw in
//              any 60 s and its 429s. The limit is lowered at both ends (WHOOP_RATE_LIMIT_PER_MINUTE at the
//              service) so that a few minutes' budgets are used up in a few minutes.
import { performance } from 'node:perf_hooks';
import { openDatabase } from '../../src/db/database.js';
import { latestValues } from '../../src/reports/daily.js';
import type { SyncRun } from '../../src/generated/prisma/client.js';
import { compileService } from '../support/compiled.js';
import { sendCommand } from '../support/environment.js';
import { processFixture } from '../support/process-fixture.js';
import { runSyncCli, startServerProcess, type ServerProcess } from '../support/server-process.js';
import { startBenchEnvironment } from './environment.js';
import { checkInterrupted, onCleanup, round, scoped, sleep } from './util.js';

const isApi = (path: string) => path.startsWith('/developer/');

async function waitFor(what: string, timeoutMs: number, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    checkInterrupted();
    if (Date.now() > deadline) throw new Error(`${what}: not within ${Math.round(timeoutMs / 1000)} s`);
    await sleep(50);
  }
}

// ----- 6. a short /sync behind a long one ------------------------------------------------------------------

export interface QueueOptions {
  longDays: number;
  shortDays: number;
  historyDays: number;
  latencyMs: number;
  perMinute: number;
  /** WHOOP requests of the long sync answered before the short /sync is typed. */
  typedAfterRequests: number;
}

export interface QueueResult {
  database: string;
  longSyncMs: number;
  longRequests: number;
  /** From the long run's end (finished_at) to the /sync 3 ✅ at the fake Slack. */
  gapMs: number;
  /** WHOOP requests the short run's execution sent. */
  shortRequests: number;
  /** Where the gap went: the long run's end → the short run's start → its end → its ✅ at the fake Slack. */
  pickupMs: number;
  shortSyncMs: number;
  deliveryMs: number;
  /** The short run's WHOOP requests: first sent → last answered. */
  shortWhoopMs: number;
  /** What the result message's read of every member's latest values took afterwards, ms (median of 5). */
  latestValuesMs: number;
  /** Each of the short run's requests: path, sent and answered, ms after the long run's end. */
  shortTimeline: string;
  gapInPages: number;
  rateLimited: number;
  targetMet: boolean;
  problems: string[];
}

export async function queueBenchmark(options: QueueOptions, progress: (line: string) => void): Promise<QueueResult> {
  return scoped(async () => {
    const problems: string[] = [];
    progress(`queue: app with a fake WHOOP answering after ${options.latencyMs} ms, ${options.historyDays} days of history`);
    const env = await startBenchEnvironment({
      whoop: { latencyMs: options.latencyMs, rateLimit: { perMinute: options.perMinute } },
      generate: { days: options.historyDays, workoutsPerDay: 2 },
    });
    const { whoop, slack, app } = env;
    whoop.resetStats();
    slack.reset();
    const api = () => whoop.stats.requests.filter((r) => isApi(r.path));
    const ack = async (text: string) => {
      const response = await sendCommand(app.url, text);
      if (response.status !== 200) throw new Error(`/sync ${text} answered ${response.status}`);
    };
    progress(`queue: /sync ${options.longDays}, then /sync ${options.shortDays} after ${options.typedAfterRequests} of its WHOOP requests`);
    await ack(String(options.longDays));
    await waitFor('the long sync to be under way', 60_000, () => api().length >= options.typedAfterRequests);
    await ack(String(options.shortDays));
    await waitFor('both results', 180_000, () => slack.messages.length >= 2);
    const runs = await app.app.db.prisma.syncRun.findMany({ orderBy: { id: 'asc' } });
    const [long, short] = runs as [SyncRun, SyncRun];
    const shortMessage = slack.messages.find((m) => m.text.includes(`last ${options.shortDays} days`));
    for (const message of slack.messages) if (!message.text.startsWith('✅')) problems.push(`queue: result "${message.text.slice(0, 120)}"`);
    if (!shortMessage || !long?.finishedAt || !long.startedAt || !short) throw new Error('queue: a result or a run is missing');
    if (short.startedAt!.getTime() < long.finishedAt.getTime()) problems.push('queue: the short run started before the long one ended');
    const longEnd = long.finishedAt.getTime();
    const gapMs = shortMessage.at.getTime() - longEnd;
    const requests = api();
    const shortRequests = requests.filter((r) => r.at > longEnd);
    const result: QueueResult = {
      database: process.env.TEST_DATABASE_URL ? 'postgres' : 'embedded',
      longSyncMs: longEnd - long.startedAt.getTime(),
      longRequests: requests.filter((r) => r.at <= longEnd).length,
      gapMs: Math.round(gapMs),
      shortRequests: shortRequests.length,
      pickupMs: short.startedAt!.getTime() - longEnd,
      shortSyncMs: short.finishedAt!.getTime() - short.startedAt!.getTime(),
      deliveryMs: Math.round(shortMessage.at.getTime() - short.finishedAt!.getTime()),
      shortTimeline: shortRequests
        .map((r) => `${r.path.replace('/developer/v2/', '')} +${Math.round(r.at - longEnd)}→${Math.round((r.answeredAt ?? Number.NaN) - longEnd)}`)
        .join(', '),
      shortWhoopMs: Math.round(
        Math.max(...shortRequests.map((r) => r.answeredAt ?? r.at)) - Math.min(...shortRequests.map((r) => r.at)),
      ),
      gapInPages: round(gapMs / options.latencyMs, 2),
      rateLimited: whoop.stats.rateLimited,
      latestValuesMs: Number.NaN,
      // One page's wait: the short sync's pages go out together, so it costs one latency, plus what the
      // service adds around it (its writes, the Slack post), held to one more page's worth.
      targetMet: gapMs <= 2 * options.latencyMs,
      problems,
    };
    if (result.rateLimited > 0) problems.push(`queue: ${result.rateLimited} 429s from the fake WHOOP`);
    const reads: number[] = [];
    for (let i = 0; i < 5; i++) {
      const begun = performance.now();
      await latestValues(app.app.db);
      reads.push(performance.now() - begun);
    }
    result.latestValuesMs = round(reads.sort((a, b) => a - b)[2]!, 1);
    await env.close();
    return result;
  });
}

// ----- 7. two processes and the CLI under one budget -------------------------------------------------------

export interface BudgetOptions {
  perMinute: number;
  days: number;
  cliDays: number;
  latencyMs: number;
  /** API requests of the first sync before its worker is killed. */
  killAfterRequests: number;
}

export interface BudgetResult {
  database: string;
  perMinute: number;
  apiRequests: number;
  peakPerMinute: number;
  rateLimited: number;
  wallSeconds: number;
  /** From the SIGKILL to the second process's "this process is the worker" (unset: it did not take over). */
  takeoverMs?: number;
  results: string[];
  cli: string;
  targetMet: boolean;
  problems: string[];
}

const WORKER_LINE = 'this process is the worker';

export async function budgetBenchmark(options: BudgetOptions, progress: (line: string) => void): Promise<BudgetResult> {
  return scoped(async () => {
    const problems: string[] = [];
    progress('budget: compiling the service (tsc -b tsconfig.build.json)');
    compileService();
    const fixture = await processFixture(
      { WHOOP_RATE_LIMIT_PER_MINUTE: String(options.perMinute) },
      { whoop: { rateLimit: { perMinute: options.perMinute }, latencyMs: options.latencyMs }, days: options.days + 35 },
    );
    onCleanup('budget fixture', () => fixture.close());
    const { whoop, slack, env } = fixture;
    const processes: ServerProcess[] = [];
    onCleanup('service processes', async () => {
      for (const each of processes) await each.stop('SIGKILL');
    });
    const start = async () => {
      const service = startServerProcess(env);
      processes.push(service);
      const url = await service.listening();
      return { service, url };
    };
    const started = Date.now();
    progress(`budget: two service processes on one database, WHOOP_RATE_LIMIT_PER_MINUTE=${options.perMinute} here and at the fake WHOOP`);
    const first = await start();
    await waitFor('the first process to become the worker', 30_000, () => first.service.output().includes(WORKER_LINE));
    const second = await start();
    const api = () => whoop.stats.requests.filter((r) => isApi(r.path)).length;
    const seen = api();
    const ack = await sendCommand(second.url, String(options.days));
    if (ack.status !== 200) throw new Error(`/sync ${options.days} answered ${ack.status}`);
    // The CLI records its run while both processes are up and waits for the worker to execute it.
    progress(`budget: /sync ${options.days} to the second process, npm run sync -- --days ${options.cliDays} meanwhile`);
    const cli = runSyncCli(['--days', String(options.cliDays)], env);
    await waitFor('the first sync to be under way', 60_000, () => api() - seen >= options.killAfterRequests);
    progress(`budget: SIGKILL to the worker after ${api() - seen} requests; it is started again`);
    first.service.child.kill('SIGKILL');
    await first.service.exited;
    const killedAt = Date.now();
    // The CLI may take the lock first (it runs a worker too while it waits); then nobody's takeover is seen here.
    const takenOver = await waitFor('the second process to take over', 30_000, () => second.service.output().includes(WORKER_LINE)).then(
      () => true,
      () => false,
    );
    const takeoverMs = takenOver ? Date.now() - killedAt : undefined;
    const third = await start();
    const cliResult = await cli;
    await waitFor('the /sync result', 15 * 60_000, () => slack.messages.length >= 1);
    const database = await openDatabase(fixture.testDb);
    let runs: SyncRun[];
    try {
      runs = await database.prisma.syncRun.findMany({ orderBy: { id: 'asc' } });
    } finally {
      await database.close();
    }
    for (const each of [second, third]) {
      const { code } = await each.service.stop('SIGTERM');
      if (code !== 0) problems.push(`budget: a service process exited with ${code}`);
    }
    const cliLine = (cliResult.stdout.split('\n')[0] ?? '').trim() || cliResult.stderr.trim();
    if (cliResult.code !== 0 || !cliLine.startsWith('✅')) problems.push(`budget: the CLI ended with ${cliResult.code}: ${cliLine}`);
    const results = slack.messages.map((m) => m.text.split('\n')[0]!);
    if (!results.every((text) => text.startsWith('✅'))) problems.push(`budget: results ${JSON.stringify(results)}`);
    if (runs.some((run) => run.status !== 'succeeded')) problems.push(`budget: runs ${JSON.stringify(runs.map((run) => run.status))}`);
    const result: BudgetResult = {
      database: process.env.TEST_DATABASE_URL ? 'postgres' : 'embedded',
      perMinute: options.perMinute,
      apiRequests: api(),
      peakPerMinute: whoop.stats.peakPerMinute,
      rateLimited: whoop.stats.rateLimited,
      wallSeconds: round((Date.now() - started) / 1000, 1),
      ...(takeoverMs === undefined ? {} : { takeoverMs }),
      results,
      cli: cliLine,
      targetMet: whoop.stats.peakPerMinute <= options.perMinute && whoop.stats.rateLimited === 0,
      problems,
    };
    return result;
  });
}
