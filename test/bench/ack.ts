// Benchmark 1, the ack guard: POST /slack/commands at a paced 50 signed `/sync` commands a second, every one
// unique, against Bolt for JavaScript, Slack's own framework (an `App` with an `HTTPReceiver`, the same
// signing secret, a `/sync` handler that only acknowledges), both in this process, both at their default log
// level, measured in the same run. Guard: whoop-sync's p99 at most twice Bolt's.
//
// The load is an open loop (requests leave at evenly spaced times whatever the answers do) on a few
// keep-alive connections, in a process of its own (load.ts), in rounds alternating between the two servers:
// on a shared machine one round's p99 can be several times another's, so each server's median round (by
// p99) is reported, and every round's p99 is printed.
//
// Every accepted /sync records a run. The fake WHOOP is held (hold()) for the whole load, so no sync
// competes with the acknowledgements (Bolt's handler does nothing after its ack either); afterwards WHOOP is
// released and the benchmark waits until every run was executed (the waiting runs share a few executions).
import { spawn } from 'node:child_process';
import diagnostics from 'node:diagnostics_channel';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import bolt from '@slack/bolt';
import type { Config } from '../../src/config/config.js';
import { DEFAULT_DAYS, parseDays } from '../../src/config/days.js';
import { ackText } from '../../src/slack/messages.js';
import { SIGNING_SECRET } from '../support/environment.js';
import { startBenchEnvironment } from './environment.js';
import type { LoadJob, LoadResult } from './load.js';
import { checkInterrupted, onCleanup, percentile, round, scoped, withTimeout } from './util.js';

const require = createRequire(import.meta.url);
const TSX_LOADER = pathToFileURL(require.resolve('tsx')).href;
const LOAD_ENTRY = fileURLToPath(new URL('./load.ts', import.meta.url));

export interface AckOptions {
  /** Keep-alive connections the paced load spreads its requests over. */
  connections: number;
  /** Signed commands a second, evenly spaced. */
  rate: number;
  warmupSeconds: number;
  durationSeconds: number;
  /** Rounds per server, alternating. */
  rounds: number;
  /** `/sync` argument sent with every command. */
  text: string;
  /** Allowed whoop-sync p99 / Bolt p99. */
  targetP99Ratio: number;
  /** LOG_LEVEL of whoop-sync (default: info, the production default; Bolt keeps its own default, INFO). */
  logLevel?: Config['logLevel'];
  /** How long to wait for the background runs to drain after the load. */
  drainTimeoutMs: number;
}

export interface AckTargetResult {
  name: string;
  /** The median of the rounds, by p99. */
  paced: LoadResult;
  rounds: LoadResult[];
}

export interface AckAppDetails {
  database: string;
  logLevel: string;
  /** sync_runs rows after the load. */
  rows: number;
  /** 200 responses the load generator received (warm-up included). */
  ok: number;
  /** Requests written but unanswered when the generator stopped (the server may still record them). */
  inFlightAtStop: number;
  /** The app's own count of accepted /sync commands (whoop_sync_slack_commands_total{outcome="accepted"}). */
  acceptedByServer: number;
  rowsMatch: boolean;
  drainSeconds: number;
  drained: boolean;
  runsSucceeded: number;
  /** WHOOP syncs the background work took (first cycle page requests): waiting runs share executions. */
  whoopSyncs: number;
  logLinesPerRequest: number;
}

export interface AckResult {
  bolt: AckTargetResult;
  ours: AckTargetResult;
  app: AckAppDetails;
  /** whoop-sync / Bolt, of the median rounds. */
  p50Ratio: number;
  p99Ratio: number;
  targetMet: boolean;
  problems: string[];
}

/**
 * The baseline: Bolt for JavaScript answering `/sync` on POST /slack/commands. Its `authorize` hands out a
 * bot token without asking Slack (nothing leaves this machine), and the handler only acknowledges, with the
 * same answer whoop-sync gives.
 */
export async function startBoltServer(): Promise<{ url: string; close(): Promise<void> }> {
  const receiver = new bolt.HTTPReceiver({ signingSecret: SIGNING_SECRET, endpoints: '/slack/commands' });
  const app = new bolt.App({
    receiver,
    authorize: async () => ({ botToken: 'xoxb-bench', botId: 'B0BENCH', botUserId: 'U0BENCH' }),
    clientOptions: { slackApiUrl: 'http://127.0.0.1:9/api/' },
  });
  app.command('/sync', async ({ command, ack }) => {
    await ack({ response_type: 'ephemeral', text: ackText(parseDays(command.text) ?? DEFAULT_DAYS) });
  });
  const server = await app.start({ port: 0, host: '127.0.0.1' });
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => app.stop() as Promise<void> };
}

/** Runs the load generator in its own process against `url`. */
export async function runLoad(job: LoadJob): Promise<LoadResult> {
  checkInterrupted();
  const child = spawn(process.execPath, ['--import', TSX_LOADER, LOAD_ENTRY], {
    env: { ...process.env, BENCH_LOAD: JSON.stringify(job) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const kill = onCleanup(`load generator ${child.pid}`, () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  try {
    const code = await withTimeout(
      new Promise<number | null>((resolve, reject) => {
        child.on('error', reject);
        child.on('exit', (exitCode) => resolve(exitCode));
      }),
      (job.warmupSeconds + job.durationSeconds + 60) * 1000,
      'load generator',
    );
    if (code !== 0) throw new Error(`load generator exited with ${code}: ${stderr.trim().slice(-2000)}`);
    const line = stdout.trim().split('\n').at(-1) ?? '';
    return JSON.parse(line) as LoadResult;
  } finally {
    await kill();
  }
}

/**
 * Runs `load` against the server on `port` in this process, recording what it cost this process
 * (ServerLoad; the request times after the warm-up, like the client's latencies).
 */
async function measureServer(
  port: number,
  warmupSeconds: number,
  load: () => Promise<LoadResult>,
): Promise<LoadResult> {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  const times = serverRequestTimes(port, warmupSeconds * 1000);
  delay.enable();
  const busyBefore = performance.eventLoopUtilization();
  const cpuBefore = process.cpuUsage();
  const result = await load().finally(() => times.stop());
  const busy = performance.eventLoopUtilization(busyBefore);
  const cpu = process.cpuUsage(cpuBefore);
  delay.disable();
  const responses = Math.max(1, result.responses);
  const sorted = times.values.sort((a, b) => a - b);
  const ms = (value: number | undefined) => round(value ?? Number.NaN, 2);
  return {
    ...result,
    server: {
      loopBusyUsPerRequest: Math.round((busy.active * 1000) / responses),
      cpuUsPerRequest: Math.round((cpu.user + cpu.system) / responses),
      loopDelay: { p99: Math.round(delay.percentile(99) / 1e4) / 100, max: Math.round(delay.max / 1e4) / 100 },
      requestTime: { p50: ms(percentile(sorted, 50)), p99: ms(percentile(sorted, 99)), max: ms(sorted.at(-1)) },
    },
  };
}

/**
 * Each request's time inside the server listening on `port` (Node's http diagnostics channels): from its
 * headers being read to its response being handed to the operating system, for requests that started
 * `warmupMs` or more after the first. Both servers and the fakes run in this process; only the loaded
 * one's port counts.
 */
function serverRequestTimes(port: number, warmupMs: number): { values: number[]; stop(): void } {
  const values: number[] = [];
  const started = new WeakMap<object, number>();
  let first: number | undefined;
  const ours = (message: { server?: { address(): unknown } }) =>
    (message.server?.address() as { port?: number } | null)?.port === port;
  const onStart = (message: unknown) => {
    const event = message as { response: object; server?: { address(): unknown } };
    if (!ours(event)) return;
    const now = performance.now();
    first ??= now;
    if (now - first >= warmupMs) started.set(event.response, now);
  };
  const onFinish = (message: unknown) => {
    const at = started.get((message as { response: object }).response);
    if (at !== undefined) values.push(performance.now() - at);
  };
  diagnostics.subscribe('http.server.request.start', onStart);
  diagnostics.subscribe('http.server.response.finish', onFinish);
  return {
    values,
    stop() {
      diagnostics.unsubscribe('http.server.request.start', onStart);
      diagnostics.unsubscribe('http.server.response.finish', onFinish);
    },
  };
}


function medianByP99(rounds: LoadResult[]): LoadResult {
  const sorted = [...rounds].sort((a, b) => a.latency.p99 - b.latency.p99);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

function checkLoad(name: string, load: LoadResult): string[] {
  const problems: string[] = [];
  const what = `${name} at ${load.connections} connection${load.connections === 1 ? '' : 's'}`;
  if (load.measuredOk === 0) problems.push(`${what}: no 200 responses in the measured window`);
  if (load.non2xx > 0) problems.push(`${what}: ${load.non2xx} non-2xx responses (${JSON.stringify(load.statusCodes)})`);
  if (load.errors > 0) problems.push(`${what}: ${load.errors} connection errors`);
  if (load.timeouts > 0) problems.push(`${what}: ${load.timeouts} timeouts`);
  return problems;
}


export async function ackBenchmark(options: AckOptions, progress: (line: string) => void): Promise<AckResult> {
  const problems: string[] = [];
  const { bolt: boltResult, ours, details } = await scoped(async () => {
    const boltServer = await startBoltServer();
    onCleanup('Bolt server', () => boltServer.close());
    progress('ack: starting the app (fresh database, fake WHOOP held, fake Slack)');
    // The held WHOOP request must outlast the whole load: with the default 15 s timeout the first sync
    // would fail and be retried in the middle of the measurement.
    const env = await startBenchEnvironment({
      generate: { days: 30 },
      logLevel: options.logLevel ?? 'info',
      env: { WHOOP_REQUEST_TIMEOUT_SECONDS: '600' },
    });
    const { app } = env.app;
    const logBefore = env.logStats();
    const release = env.whoop.hold();
    onCleanup('WHOOP hold', release);
    const database = process.env.TEST_DATABASE_URL ? 'postgres' : 'embedded';
    const targets = [
      { name: 'Bolt for JavaScript (App + HTTPReceiver)', url: boltServer.url },
      { name: `whoop-sync (${database}), LOG_LEVEL=${env.config.logLevel}`, url: env.app.url },
    ] as const;

    const rounds: [LoadResult[], LoadResult[]] = [[], []];
    for (let round = 0; round < options.rounds; round++) {
      for (const [index, target] of targets.entries()) {
        progress(`ack: round ${round + 1}/${options.rounds}: ${target.name}: ${options.connections} connections at ${options.rate}/s, ${options.warmupSeconds} s + ${options.durationSeconds} s`);
        const job: LoadJob = {
          url: target.url,
          connections: options.connections,
          warmupSeconds: options.warmupSeconds,
          durationSeconds: options.durationSeconds,
          signingSecret: SIGNING_SECRET,
          text: options.text,
          rate: options.rate,
        };
        const port = Number(new URL(target.url).port);
        rounds[index]!.push(await measureServer(port, options.warmupSeconds, () => runLoad(job)));
      }
    }
    const logAfter = env.logStats();
    const result = (index: 0 | 1): AckTargetResult => ({
      name: targets[index].name,
      paced: medianByP99(rounds[index]),
      rounds: rounds[index],
    });
    const ours = result(1);

    // Requests still in flight when the generator stopped are recorded by now or never: let them land.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const accepted = (await app.metrics.slackCommands.get()).values.find((v) => v.labels.outcome === 'accepted')?.value ?? 0;
    const rows = await app.db.prisma.syncRun.count();

    progress(`ack: releasing WHOOP; draining ${rows} background runs`);
    const drainStart = Date.now();
    release();
    let drained = false;
    while (!drained && Date.now() - drainStart < options.drainTimeoutMs) {
      drained = (await app.db.prisma.syncRun.count({ where: { status: { in: ['queued', 'running'] } } })) === 0;
      if (!drained) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const drainSeconds = (Date.now() - drainStart) / 1000;
    const runsSucceeded = await app.db.prisma.syncRun.count({ where: { status: 'succeeded' } });
    const whoopSyncs = env.whoop.stats.requests.filter((r) => r.path === '/developer/v2/cycle' && !r.query.nextToken).length;
    const ok = ours.rounds.reduce((sum, each) => sum + each.ok, 0);
    const inFlightAtStop = ours.rounds.reduce((sum, each) => sum + each.inFlightAtStop, 0);
    const requests = ours.rounds.reduce((sum, each) => sum + each.responses, 0);
    const details: AckAppDetails = {
      database,
      logLevel: env.config.logLevel,
      rows,
      ok,
      inFlightAtStop,
      acceptedByServer: accepted,
      rowsMatch: rows === accepted && rows >= ok && rows <= ok + inFlightAtStop,
      drainSeconds: round(drainSeconds, 1),
      drained,
      runsSucceeded,
      whoopSyncs,
      logLinesPerRequest: round((logAfter.lines - logBefore.lines) / Math.max(1, requests), 2),
    };
    await env.close();
    return { bolt: result(0), ours, details };
  });

  for (const target of [boltResult, ours]) {
    for (const each of target.rounds) problems.push(...checkLoad(target.name, each));
    // A paced load that could not keep its rate measured queueing, not the ack path.
    if (target.rounds.some((each) => each.requestsPerSecond < 0.95 * options.rate)) {
      problems.push(`${target.name} kept only ${target.paced.requestsPerSecond} of the ${options.rate} commands a second offered`);
    }
  }
  if (!details.rowsMatch) {
    problems.push(
      `sync_runs rows (${details.rows}) do not match the accepted commands (server: ${details.acceptedByServer}; ` +
        `client 200s: ${details.ok}, + up to ${details.inFlightAtStop} in flight at stop)`,
    );
  }
  if (!details.drained) problems.push(`background runs did not drain within ${options.drainTimeoutMs / 1000} s`);
  else if (details.runsSucceeded !== details.rows) problems.push(`only ${details.runsSucceeded} of ${details.rows} runs succeeded`);

  const p99Ratio = round(ours.paced.latency.p99 / boltResult.paced.latency.p99, 2);
  return {
    bolt: boltResult,
    ours,
    app: details,
    p50Ratio: round(ours.paced.latency.p50 / boltResult.paced.latency.p50, 2),
    p99Ratio,
    targetMet: p99Ratio <= options.targetP99Ratio,
    problems,
  };
}
