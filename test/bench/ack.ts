// Benchmark 1, the ack path: POST /slack/commands under 100 concurrent connections, every request a new,
// correctly signed /sync. Compared with a bare Fastify route (same Fastify, same @fastify/formbody, same
// JSON answer, no verification, no recording, Fastify's default of no logging) hammered by the same
// generator with the same settings, in the same run. Each target is loaded three ways:
//   - saturated: 100 connections, each sending its next request as soon as the last is answered. This
//     measures throughput; the latency is then mostly queueing (≈ connections ÷ req/s);
//   - paced: the same 100 connections at a fixed offered rate that both servers sustain. This measures the
//     latency the ack path adds when requests are not queued behind each other; the p99 target applies here.
//     Repeated in rounds that alternate between the servers (median round reported): on a shared machine
//     one round's p99 can be several times another's;
//   - unloaded: one connection, one request at a time: the per-request cost alone.
//
// Every accepted /sync records a sync_runs row and dispatches a background sync. The fake WHOOP is held
// (hold()) for the whole load, so no WHOOP or sync work competes with the acknowledgements: what is
// measured is the ack path itself (verify, record, answer; the background runs only queue behind the
// first one). Afterwards WHOOP is released and the benchmark waits until every run was executed (queued
// runs coalesce into a few WHOOP syncs); result messages still being posted then are cut off by shutdown.
import { spawn } from 'node:child_process';
import diagnostics from 'node:diagnostics_channel';
import { createRequire } from 'node:module';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import formbody from '@fastify/formbody';
import Fastify from 'fastify';
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
  connections: number;
  warmupSeconds: number;
  durationSeconds: number;
  /**
   * The same connections at a fixed offered rate well below either server's capacity: the latency the ack
   * path adds when requests do not queue behind each other. This is where the p99 target applies.
   */
  paced: { rate: number; warmupSeconds: number; durationSeconds: number; rounds: number };
  /** A second, unloaded measurement on one connection: the per-request cost without queueing. */
  unloaded: { warmupSeconds: number; durationSeconds: number } | undefined;
  /** `/sync` argument sent with every command. */
  text: string;
  /** Allowed ours − bare p99 difference at `connections` and the paced rate, in ms ("within a few milliseconds"). */
  targetP99DeltaMs: number;
  /** LOG_LEVEL of the app under test (default: info, the production default). */
  logLevel?: Config['logLevel'];
  /** How long to wait for the background runs to drain after the load. */
  drainTimeoutMs: number;
}

export interface AckTargetResult {
  name: string;
  saturated: LoadResult;
  /** The median of the paced rounds, by p99. */
  paced: LoadResult;
  pacedRounds: LoadResult[];
  unloaded?: LoadResult;
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
  /** WHOOP syncs the background work took (first cycle page requests): queued runs coalesce. */
  whoopSyncs: number;
  slackMessages: number;
  logLinesPerRequest: number;
  logBytesPerRequest: number;
}

export interface Ratios {
  /** ours / bare */
  latencyP50: number;
  latencyP99: number;
  /** bare / ours */
  throughput: number;
  /** ours − bare, ms */
  p99DeltaMs: number;
}

export interface AckResult {
  bare: AckTargetResult;
  ours: AckTargetResult;
  app: AckAppDetails;
  /** At saturation: throughput-bound (latency ≈ connections ÷ req/s). */
  ratios: Ratios;
  pacedRatios: Ratios;
  unloadedRatios?: Ratios;
  /** Paced p99 within the target of the bare route's. */
  targetMet: boolean;
  /** Saturated p99 within the target of the bare route's. */
  saturatedTargetMet: boolean;
  problems: string[];
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

/** The baseline: the least a Fastify server must do to answer the command. */
export async function startBareServer(): Promise<{ url: string; close(): Promise<void> }> {
  const app = Fastify();
  await app.register(formbody);
  app.post<{ Body: Record<string, string | undefined> }>('/slack/commands', async (request) => ({
    response_type: 'ephemeral',
    text: ackText(parseDays(request.body?.text) ?? DEFAULT_DAYS),
  }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('bare server did not bind a TCP port');
  return { url: `http://127.0.0.1:${address.port}`, close: () => app.close() };
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

function ratios(ours: LoadResult, bare: LoadResult): Ratios {
  return {
    latencyP50: round(ours.latency.p50 / bare.latency.p50, 2),
    latencyP99: round(ours.latency.p99 / bare.latency.p99, 2),
    throughput: round(bare.requestsPerSecond / ours.requestsPerSecond, 2),
    p99DeltaMs: round(ours.latency.p99 - bare.latency.p99, 2),
  };
}

export async function ackBenchmark(options: AckOptions, progress: (line: string) => void): Promise<AckResult> {
  const problems: string[] = [];
  const { bare, ours, details } = await scoped(async () => {
    const bareServer = await startBareServer();
    onCleanup('bare server', () => bareServer.close());
    progress('ack: starting the app (fresh database, fake WHOOP held, fake Slack)');
    // The held WHOOP request must outlast the whole load: with the default 15 s timeout, the first sync
    // would fail after its fifth attempt, and the next one would take every queued run in one large UPDATE
    // in the middle of the measurement.
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
      { name: 'bare Fastify route', url: bareServer.url },
      { name: `whoop-sync (${database})`, url: env.app.url },
    ] as const;
    const load = (
      target: (typeof targets)[number],
      connections: number,
      warmupSeconds: number,
      durationSeconds: number,
      rate?: number,
    ) => {
      progress(
        `ack: ${target.name}: ${connections} connection${connections === 1 ? '' : 's'}${rate ? ` at ${rate} req/s` : ''}, ` +
          `${warmupSeconds} s warm-up + ${durationSeconds} s`,
      );
      return measureServer(Number(new URL(target.url).port), warmupSeconds, () =>
        runLoad({
          url: target.url,
          connections,
          warmupSeconds,
          durationSeconds,
          signingSecret: SIGNING_SECRET,
          text: options.text,
          ...(rate ? { rate } : {}),
        }),
      );
    };

    // Lightest load first: the saturated load leaves tens of thousands of acknowledged runs queued behind
    // the held WHOOP sync, a state no lighter load should be measured in. The paced rounds alternate
    // between the two servers, so that a noisy neighbour on a shared machine hits both alike; each
    // target's median round (by p99) is reported.
    const unloaded: LoadResult[] = [];
    if (options.unloaded) {
      for (const target of targets) {
        unloaded.push(await load(target, 1, options.unloaded.warmupSeconds, options.unloaded.durationSeconds));
      }
    }
    const { paced: p } = options;
    const pacedRounds: [LoadResult[], LoadResult[]] = [[], []];
    for (let round = 0; round < p.rounds; round++) {
      for (const [index, target] of targets.entries()) {
        pacedRounds[index]!.push(await load(target, options.connections, p.warmupSeconds, p.durationSeconds, p.rate));
      }
    }
    const saturated: LoadResult[] = [];
    for (const target of targets) {
      saturated.push(await load(target, options.connections, options.warmupSeconds, options.durationSeconds));
    }
    const logAfter = env.logStats();

    const result = (index: 0 | 1): AckTargetResult => ({
      name: targets[index].name,
      saturated: saturated[index]!,
      paced: medianByP99(pacedRounds[index]),
      pacedRounds: pacedRounds[index],
      ...(unloaded[index] ? { unloaded: unloaded[index] } : {}),
    });
    const ours = result(1);

    // Requests still in flight when the generator stopped are recorded by now or never: let them land.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const accepted = (await app.metrics.slackCommands.get()).values.find((v) => v.labels.outcome === 'accepted')?.value ?? 0;
    const rows = await app.db.prisma.syncRun.count();

    progress(`ack: releasing WHOOP; draining ${rows} background runs`);
    const drainStart = Date.now();
    release();
    // Drained = every run executed. Their result messages keep going out one by one afterwards (Slack allows
    // about one message per second per channel anyway); shutdown stops that, and the next start would
    // deliver the rest.
    let drained = false;
    while (!drained && Date.now() - drainStart < options.drainTimeoutMs) {
      drained = (await app.db.prisma.syncRun.count({ where: { status: { in: ['queued', 'running'] } } })) === 0;
      if (!drained) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const drainSeconds = (Date.now() - drainStart) / 1000;
    const runsSucceeded = await app.db.prisma.syncRun.count({ where: { status: 'succeeded' } });
    const whoopSyncs = env.whoop.stats.requests.filter((r) => r.path === '/developer/v2/cycle' && !r.query.nextToken).length;
    const all = [ours.saturated, ...ours.pacedRounds, ...(ours.unloaded ? [ours.unloaded] : [])];
    const ok = all.reduce((sum, each) => sum + each.ok, 0);
    const inFlightAtStop = all.reduce((sum, each) => sum + each.inFlightAtStop, 0);
    const requests = all.reduce((sum, each) => sum + each.responses, 0);
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
      slackMessages: env.slack.messages.length,
      logLinesPerRequest: round((logAfter.lines - logBefore.lines) / Math.max(1, requests), 2),
      logBytesPerRequest: round((logAfter.bytes - logBefore.bytes) / Math.max(1, requests), 0),
    };
    await env.close();
    return { bare: result(0), ours, details };
  });

  for (const target of [bare, ours]) {
    problems.push(...checkLoad(target.name, target.saturated));
    for (const each of target.pacedRounds) problems.push(...checkLoad(target.name, each));
    if (target.unloaded) problems.push(...checkLoad(target.name, target.unloaded));
  }
  if (!details.rowsMatch) {
    problems.push(
      `sync_runs rows (${details.rows}) do not match the accepted commands (server: ${details.acceptedByServer}; ` +
        `client 200s: ${details.ok}, + up to ${details.inFlightAtStop} in flight at stop)`,
    );
  }
  if (!details.drained) problems.push(`background runs did not drain within ${options.drainTimeoutMs / 1000} s`);
  else if (details.runsSucceeded !== details.rows) problems.push(`only ${details.runsSucceeded} of ${details.rows} runs succeeded`);

  const saturated = ratios(ours.saturated, bare.saturated);
  const paced = ratios(ours.paced, bare.paced);
  // A paced load that could not keep its rate measured queueing, not the ack path.
  for (const target of [bare, ours]) {
    if (target.pacedRounds.some((each) => each.requestsPerSecond < 0.95 * options.paced.rate)) {
      problems.push(`${target.name} kept only ${target.paced.requestsPerSecond} of the ${options.paced.rate} req/s offered: lower BENCH_ACK_RATE`);
    }
  }
  return {
    bare,
    ours,
    app: details,
    ratios: saturated,
    pacedRatios: paced,
    ...(ours.unloaded && bare.unloaded ? { unloadedRatios: ratios(ours.unloaded, bare.unloaded) } : {}),
    targetMet: paced.p99DeltaMs <= options.targetP99DeltaMs,
    saturatedTargetMet: saturated.p99DeltaMs <= options.targetP99DeltaMs,
    problems,
  };
}
