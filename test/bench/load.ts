// The load generator of the ack-path benchmark, run as its own process (`node --import tsx load.ts`) so that
// its CPU time never shares an event loop with the server under test. It reads its job from the
// BENCH_LOAD environment variable (JSON) and runs autocannon once for warm-up + measurement on the same
// connections, every request a freshly signed, unique /sync. Responses completed during the warm-up are
// left out of the figures (but any non-2xx anywhere counts). It prints one JSON line with the results.
import autocannon from 'autocannon';
import { commandGenerator } from './requests.js';
import { percentile, round } from './util.js';

export interface LoadJob {
  url: string;
  connections: number;
  warmupSeconds: number;
  durationSeconds: number;
  signingSecret: string;
  text: string;
  /** Requests per second across all connections (autocannon's overallRate); unset = as fast as answered. */
  rate?: number;
}

export interface LatencySummary {
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

export interface LoadResult {
  connections: number;
  /** The offered rate (req/s across all connections), when the load was paced. */
  rate?: number;
  /** Length of the measured window (after the warm-up), in seconds. */
  measuredSeconds: number;
  /** 2xx responses completed in the measured window. */
  measuredOk: number;
  requestsPerSecond: number;
  /** Latency of 2xx responses completed in the measured window, in ms, from exact per-request times. */
  latency: LatencySummary;
  /** Whole run (warm-up included): requests written, responses by status, failures. */
  sent: number;
  responses: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  /** Requests written but unanswered when the run stopped (the server may still have processed them). */
  inFlightAtStop: number;
  /** Latency of the first response on each connection: includes waiting to be accepted by the server. */
  firstResponse: { p50: number; max: number };
  /** Per second of the whole run (by completion): 2xx responses, their p99 and max latency in ms. */
  timeline: Array<{ second: number; ok: number; p99: number; max: number }>;
}

function summarize(values: number[]): LatencySummary {
  const sorted = [...values].sort((a, b) => a - b);
  const mean = sorted.reduce((sum, n) => sum + n, 0) / Math.max(1, sorted.length);
  return {
    mean: round(mean, 3),
    p50: round(percentile(sorted, 50), 3),
    p90: round(percentile(sorted, 90), 3),
    p99: round(percentile(sorted, 99), 3),
    p999: round(percentile(sorted, 99.9), 3),
    max: round(sorted.at(-1) ?? Number.NaN, 3),
  };
}

async function run(job: LoadJob): Promise<LoadResult> {
  const next = commandGenerator(job.signingSecret, job.text, `c${job.connections}`);
  const measured: number[] = [];
  const perSecond: number[][] = [];
  const firstResponse = new Map<object, number>();
  const instance = autocannon({
    url: `${job.url}/slack/commands`,
    connections: job.connections,
    duration: job.warmupSeconds + job.durationSeconds,
    pipelining: 1,
    timeout: 10,
    ...(job.rate ? { overallRate: job.rate } : {}),
    requests: [
      {
        method: 'POST',
        setupRequest: (request) => {
          const { body, headers } = next();
          return { ...request, method: 'POST', path: '/slack/commands', headers, body };
        },
      },
    ],
  });
  let startedAt = performance.now();
  let lastAt = startedAt;
  instance.on('start', () => (startedAt = performance.now()));
  const warmupEnds = () => startedAt + job.warmupSeconds * 1000;
  instance.on('response', (client: object, statusCode: number, _bytes: number, responseTime: number) => {
    if (!firstResponse.has(client)) firstResponse.set(client, responseTime);
    if (statusCode < 200 || statusCode >= 300) return;
    const now = performance.now();
    lastAt = now;
    if (now >= warmupEnds()) measured.push(responseTime);
    (perSecond[Math.floor((now - startedAt) / 1000)] ??= []).push(responseTime);
  });
  const result = await instance;
  const statusCodes = Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, { count }]) => [code, count]));
  const responses = Object.values(statusCodes).reduce((sum, n) => sum + n, 0);
  const measuredSeconds = Math.max(0.001, (lastAt - warmupEnds()) / 1000);
  const first = summarize([...firstResponse.values()]);
  return {
    connections: job.connections,
    ...(job.rate ? { rate: job.rate } : {}),
    measuredSeconds: round(measuredSeconds, 2),
    measuredOk: measured.length,
    requestsPerSecond: round(measured.length / measuredSeconds, 1),
    latency: summarize(measured),
    sent: result.requests.sent,
    responses,
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes,
    inFlightAtStop: Math.max(0, result.requests.sent - responses - result.errors - result.timeouts),
    firstResponse: { p50: first.p50, max: first.max },
    timeline: Array.from(perSecond, (values = [], second) => {
      const s = summarize(values);
      return { second, ok: values.length, p99: round(s.p99, 1), max: round(s.max, 1) };
    }),
  };
}

// A generator that outlives its parent must not keep hammering: hard stop after the job's time plus slack.
const job = JSON.parse(process.env.BENCH_LOAD ?? '{}') as LoadJob;
setTimeout(() => {
  console.error('load generator: hard timeout');
  process.exit(3);
}, ((job.warmupSeconds ?? 0) + (job.durationSeconds ?? 0) + 30) * 1000).unref();

if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(job.url ?? '')) {
  console.error(`load generator refuses to target ${job.url}: loopback only`);
  process.exit(2);
}
run(job).then(
  (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
  (error: unknown) => {
    console.error(`load generator failed: ${(error as Error).stack ?? String(error)}`);
    process.exit(1);
  },
);
