// The load generator of the ack benchmark, run as its own process (`node --import tsx load.ts`) so that its
// CPU time never shares an event loop with the server under test. It reads its job from the BENCH_LOAD
// environment variable (JSON) and loads the server once for warm-up + measurement on the same connections,
// every request a freshly signed, unique /sync. Responses completed during the warm-up are left out of the
// figures (but any non-2xx anywhere counts). It prints one JSON line with the results.
//
// The load is paced: requests leave at evenly spaced times whatever the answers do (an open loop), on a
// keep-alive pool of `connections` sockets, every request built and signed before the clock starts.
// autocannon's rate options release each second's quota at once, a burst at every second that measures
// queueing instead of the server.
import net from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { commandGenerator } from './requests.js';
import { percentile, round } from './util.js';

export interface LoadJob {
  url: string;
  connections: number;
  warmupSeconds: number;
  durationSeconds: number;
  signingSecret: string;
  text: string;
  /** Requests per second across all connections, evenly spaced. */
  rate: number;
}

export interface LatencySummary {
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/**
 * What serving a load cost the server process, over the whole run (warm-up included). Less sensitive to
 * a noisy neighbour than the client's latencies: CPU is counted per thread, not per wall-clock second.
 */
export interface ServerLoad {
  /** Main-thread (event loop) busy time per response, µs: what every request waits behind. */
  loopBusyUsPerRequest: number;
  /** CPU time of the whole process per response, µs: every thread, the embedded database's included. */
  cpuUsPerRequest: number;
  /** The main thread's event-loop delay, p99 and max, ms. */
  loopDelay: { p99: number; max: number };
  /**
   * The server's own time per request, ms: from the request's headers being read to the response being
   * handed to the operating system. What the client measures beyond it accrued in queues (the event loop,
   * the kernel, the load generator).
   */
  requestTime: { p50: number; p99: number; max: number };
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
  /**
   * The generator's own event-loop delay over the run, in ms: a response it read late counts as latency
   * the server did not add. Large values mean the load machine, not the target, set the tail.
   */
  generatorDelay: { p99: number; max: number };
  /** The generator's own CPU time per response, µs: time this machine's CPUs did not give the server. */
  generatorCpuUsPerRequest: number;
  /** Measured in the benchmark process, which runs both servers (filled in by ack.ts). */
  server?: ServerLoad;
  /** Per second of the whole run (by completion): 2xx responses, their p99 and max latency in ms. */
  timeline: Array<{ second: number; ok: number; p99: number; max: number }>;
}

const cpuPerResponse = (cpu: NodeJS.CpuUsage, responses: number) => (cpu.user + cpu.system) / Math.max(1, responses);

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

/** Collects per-response figures and builds the result; shared by both kinds of load. */
class Recorder {
  private startedAt = performance.now();
  private lastAt = this.startedAt;
  private readonly measured: number[] = [];
  private readonly perSecond: number[][] = [];
  private readonly firstResponse = new Map<object, number>();

  private readonly loopDelay = monitorEventLoopDelay({ resolution: 1 });

  constructor(private readonly job: LoadJob) {}

  private cpuAtStart = process.cpuUsage();

  start(): void {
    this.startedAt = this.lastAt = performance.now();
    this.cpuAtStart = process.cpuUsage();
    this.loopDelay.enable();
  }

  private get warmupEnds(): number {
    return this.startedAt + this.job.warmupSeconds * 1000;
  }

  /** One response on `connection`, `latency` ms after its request was sent. */
  response(connection: object, statusCode: number, latency: number): void {
    if (!this.firstResponse.has(connection)) this.firstResponse.set(connection, latency);
    if (statusCode < 200 || statusCode >= 300) return;
    const now = performance.now();
    this.lastAt = now;
    if (now >= this.warmupEnds) this.measured.push(latency);
    (this.perSecond[Math.floor((now - this.startedAt) / 1000)] ??= []).push(latency);
  }

  result(counts: Pick<LoadResult, 'sent' | 'ok' | 'non2xx' | 'errors' | 'timeouts' | 'statusCodes'>): LoadResult {
    const responses = Object.values(counts.statusCodes).reduce((sum, n) => sum + n, 0);
    const measuredSeconds = Math.max(0.001, (this.lastAt - this.warmupEnds) / 1000);
    const first = summarize([...this.firstResponse.values()]);
    this.loopDelay.disable();
    return {
      connections: this.job.connections,
      ...(this.job.rate ? { rate: this.job.rate } : {}),
      measuredSeconds: round(measuredSeconds, 2),
      measuredOk: this.measured.length,
      requestsPerSecond: round(this.measured.length / measuredSeconds, 1),
      latency: summarize(this.measured),
      ...counts,
      responses,
      inFlightAtStop: Math.max(0, counts.sent - responses - counts.errors - counts.timeouts),
      firstResponse: { p50: first.p50, max: first.max },
      generatorDelay: { p99: round(this.loopDelay.percentile(99) / 1e6, 1), max: round(this.loopDelay.max / 1e6, 1) },
      generatorCpuUsPerRequest: Math.round(cpuPerResponse(process.cpuUsage(this.cpuAtStart), responses)),
      timeline: Array.from(this.perSecond, (values = [], second) => {
        const s = summarize(values);
        return { second, ok: values.length, p99: round(s.p99, 1), max: round(s.max, 1) };
      }),
    };
  }
}

/**
 * One keep-alive HTTP/1.1 connection of the paced load: writes a prepared request, reads its answer (status
 * line, Content-Length, body), then takes the next. Plain bytes on a socket, no http.ClientRequest per
 * request: the generator shares this machine's CPUs with the server under test, and everything it spends
 * per request is time the server cannot run.
 */
class PacedConnection {
  /** When the request on the wire was sent (performance.now()), or undefined when idle. */
  sentAt: number | undefined;
  lost = false;
  private received: Buffer = Buffer.alloc(0);

  constructor(
    readonly socket: net.Socket,
    private readonly answered: (connection: PacedConnection, status: number, sentAt: number) => void,
    private readonly failed: (connection: PacedConnection) => void,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.read(chunk));
    socket.on('error', () => this.lose());
    socket.on('close', () => this.lose());
  }

  send(request: Buffer, sentAt: number): void {
    this.sentAt = sentAt;
    this.socket.write(request);
  }

  private lose(): void {
    if (this.lost) return;
    this.lost = true;
    this.socket.destroy();
    this.failed(this);
  }

  private read(chunk: Buffer): void {
    this.received = this.received.length ? Buffer.concat([this.received, chunk]) : chunk;
    const headEnd = this.received.indexOf('\r\n\r\n');
    if (headEnd === -1) return;
    const head = this.received.toString('latin1', 0, headEnd);
    let end: number;
    if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
      // Bolt's receiver answers in chunks: the small JSON bodies here end at the first zero-length chunk.
      const last = this.received.indexOf('\r\n0\r\n\r\n', headEnd + 2);
      if (last === -1) return;
      end = last + 7;
    } else {
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1]);
      if (!Number.isFinite(length)) return this.lose(); // not an answer this generator understands: counted as an error
      end = headEnd + 4 + length;
      if (this.received.length < end) return;
    }
    this.received = this.received.subarray(end);
    const sentAt = this.sentAt;
    this.sentAt = undefined;
    if (sentAt !== undefined) this.answered(this, Number(head.slice(9, 12)), sentAt);
  }
}

/** The paced load's requests, built and signed before the clock starts (each one still unique). */
function prepareRequests(job: LoadJob, count: number): Buffer[] {
  const next = commandGenerator(job.signingSecret, job.text, `p${job.connections}`);
  const { host } = new URL(job.url);
  return Array.from({ length: count }, () => {
    const { body, headers } = next();
    const lines = Object.entries({ ...headers, host, 'content-length': String(Buffer.byteLength(body)) }).map(([name, value]) => `${name}: ${value}`);
    return Buffer.from(`POST /slack/commands HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n${body}`);
  });
}

async function paced(job: LoadJob, rate: number): Promise<LoadResult> {
  const recorder = new Recorder(job);
  const { hostname, port } = new URL(job.url);
  const total = Math.round((job.warmupSeconds + job.durationSeconds) * rate);
  const requests = prepareRequests(job, total);
  const counts = { sent: 0, ok: 0, non2xx: 0, errors: 0, timeouts: 0, statusCodes: {} as Record<string, number> };
  const all: PacedConnection[] = [];
  const idle: PacedConnection[] = [];
  /** Requests that came due while every connection was busy: they wait, and the wait counts as latency. */
  const waiting: number[] = [];

  const send = (connection: PacedConnection, sentAt: number) => connection.send(requests[counts.sent++]!, sentAt);
  const free = (connection: PacedConnection) => {
    const sentAt = waiting.shift();
    if (sentAt === undefined) idle.push(connection);
    else send(connection, sentAt);
  };
  const answered = (connection: PacedConnection, status: number, sentAt: number) => {
    counts.statusCodes[status] = (counts.statusCodes[status] ?? 0) + 1;
    if (status >= 200 && status < 300) counts.ok++;
    else counts.non2xx++;
    recorder.response(connection.socket, status, performance.now() - sentAt);
    free(connection);
  };
  // A connection lost with a request on it: that request counts as an error, and the rest of the load
  // goes over the remaining connections.
  const failed = (connection: PacedConnection) => {
    if (connection.sentAt !== undefined) counts.errors++;
    const index = idle.indexOf(connection);
    if (index !== -1) idle.splice(index, 1);
  };
  await Promise.all(
    Array.from(
      { length: job.connections },
      () =>
        new Promise<void>((resolve, reject) => {
          const socket = net.connect(Number(port), hostname);
          socket.once('error', reject);
          socket.once('connect', () => {
            socket.off('error', reject);
            const connection = new PacedConnection(socket, answered, failed);
            all.push(connection);
            idle.push(connection);
            resolve();
          });
        }),
    ),
  );

  // Requests are due every 1000/rate ms from the start; a timer tick sends whatever has come due (one or
  // two at a time at these rates), so a late tick catches up instead of lowering the rate.
  const interval = 1000 / rate;
  recorder.start();
  const startedAt = performance.now();
  let scheduled = 0;
  while (scheduled < total) {
    const due = Math.min(total, Math.floor((performance.now() - startedAt) / interval) + 1);
    for (const now = performance.now(); scheduled < due; scheduled++) {
      const connection = idle.pop();
      if (connection) send(connection, now);
      else waiting.push(now);
    }
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, interval - 0.5)));
  }
  // Answers still on the way count; whatever is unanswered after 10 s is reported as in flight.
  const busy = () => waiting.length > 0 || all.some((each) => !each.lost && each.sentAt !== undefined);
  const deadline = performance.now() + 10_000;
  while (busy() && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  for (const connection of all) {
    connection.lost = true;
    connection.socket.destroy();
  }
  return recorder.result(counts);
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
paced(job, job.rate).then(
  (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
  (error: unknown) => {
    console.error(`load generator failed: ${(error as Error).stack ?? String(error)}`);
    process.exit(1);
  },
);
