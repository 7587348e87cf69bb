// CPU per WHOOP request for the HTTP clients whoop-sync could use, cold: each run is a fresh process that
// sends 95 sequential GETs for a 17 KB JSON page (gzip) to a server on 127.0.0.1, and counts its own CPU
// (process.cpuUsage) over the last 80. The server runs in this process, so its CPU is not counted.
//
//   node --import tsx test/bench/http-client.ts        (BENCH_REPS runs per client, default 5, interleaved)
//
// Clients: src/whoop/transport.ts (node:http keep-alive), fetch(), and undici's request() with an Agent,
// once with undici's decompress interceptor and once reading the body and gunzipping it as transport.ts
// does. BENCH_UNDICI=path/to/undici/index.js and BENCH_NODE=path/to/node measure another undici on
// another Node (undici 8 needs Node >= 22.19).
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync, gzipSync } from 'node:zlib';

const WARMUP = 15;
const MEASURED = 80;
const CAP = 16 * 1024 * 1024;
const CLIENTS = ['transport', 'fetch', 'undici-request+decompress', 'undici-request+gunzip'] as const;
type Client = (typeof CLIENTS)[number];

type Send = (url: URL) => Promise<string>;

async function makeClient(name: Client): Promise<Send> {
  if (name === 'transport') {
    const { Transport } = await import('../../src/whoop/transport.js');
    const transport = new Transport();
    return async (url) => (await transport.send(url, { method: 'GET', headers: {}, signal: new AbortController().signal })).text;
  }
  if (name === 'fetch') return async (url) => (await fetch(url, { signal: new AbortController().signal })).text();
  const undici = (await import(process.env.BENCH_UNDICI ?? 'undici')) as typeof import('undici');
  const agent = new undici.Agent({ keepAliveTimeout: 4_000, maxResponseSize: CAP });
  const headers = { 'accept-encoding': 'gzip, deflate, br' };
  if (name === 'undici-request+decompress') {
    const dispatcher = agent.compose(undici.interceptors.decompress({ maxSize: CAP, skipErrorResponses: false }));
    return async (url) => {
      const { body } = await undici.request(url, { dispatcher, headers, signal: new AbortController().signal });
      return body.text();
    };
  }
  return async (url) => {
    const { body } = await undici.request(url, { dispatcher: agent, headers, signal: new AbortController().signal });
    return gunzipSync(Buffer.from(await body.arrayBuffer()), { maxOutputLength: CAP }).toString('utf8');
  };
}

/** One cold run: prints the CPU microseconds per request over the measured requests. */
async function clientRun(name: Client, base: string, length: number): Promise<void> {
  const send = await makeClient(name);
  const url = new URL('/developer/v2/cycle?limit=25', base);
  let cpu = process.cpuUsage();
  for (let i = 0; i < WARMUP + MEASURED; i++) {
    if (i === WARMUP) cpu = process.cpuUsage();
    const text = await send(url);
    if (text.length !== length) throw new Error(`${name}: got ${text.length} characters, expected ${length}`);
  }
  const used = process.cpuUsage(cpu);
  console.log(JSON.stringify({ cpuUsPerRequest: (used.user + used.system) / MEASURED }));
  process.exit(0);
}

/** 19 sleep records: about 17 KB of JSON, varied enough to compress as real pages do. */
function page(): string {
  const digits = (i: number, k: number) => Number((Math.abs(Math.sin(i * 31 + k)) * 100).toFixed(6));
  const records = Array.from({ length: 19 }, (_, i) => ({
    id: `ecfc6a15-4661-442f-a9a4-f160dd7a${String(1000 + i)}`,
    cycle_id: 93_845_000 + i * 37,
    v1_id: 10_235_000 + i * 11,
    user_id: 10129,
    created_at: `2026-11-${String(1 + (i % 28)).padStart(2, '0')}T11:${String(10 + i).padStart(2, '0')}:44.${String(100 + i * 7)}Z`,
    updated_at: `2026-11-${String(1 + (i % 28)).padStart(2, '0')}T14:${String(10 + i).padStart(2, '0')}:21.${String(200 + i * 3)}Z`,
    start: `2026-11-${String(1 + (i % 28)).padStart(2, '0')}T02:${String(10 + i).padStart(2, '0')}:04.${String(300 + i)}Z`,
    end: `2026-11-${String(1 + (i % 28)).padStart(2, '0')}T10:${String(10 + i).padStart(2, '0')}:55.${String(400 + i)}Z`,
    timezone_offset: i % 3 === 0 ? '-05:00' : '+01:00',
    nap: false,
    score_state: 'SCORED',
    score: {
      stage_summary: {
        total_in_bed_time_milli: 28_000_000 + i * 91_357,
        total_awake_time_milli: 1_900_000 + i * 7_919,
        total_no_data_time_milli: 0,
        total_light_sleep_time_milli: 14_000_000 + i * 51_131,
        total_slow_wave_sleep_time_milli: 6_000_000 + i * 33_331,
        total_rem_sleep_time_milli: 5_500_000 + i * 27_449,
        sleep_cycle_count: 3 + (i % 4),
        disturbance_count: 10 + (i % 9),
      },
      sleep_needed: {
        baseline_milli: 27_395_716,
        need_from_sleep_debt_milli: 352_230 + i * 1_013,
        need_from_recent_strain_milli: 208_595 + i * 997,
        need_from_recent_nap_milli: -12_312 - i * 13,
      },
      respiratory_rate: digits(i, 1) / 5,
      sleep_performance_percentage: digits(i, 2),
      sleep_consistency_percentage: digits(i, 3),
      sleep_efficiency_percentage: digits(i, 4),
    },
  }));
  return JSON.stringify({ records, next_token: 'MTIzOjEyMzEyMw' });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function main(): Promise<void> {
  const text = page();
  const gzipped = gzipSync(text);
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': gzipped.length });
    response.end(gzipped);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const reps = Number(process.env.BENCH_REPS || 5);
  const node = process.env.BENCH_NODE ?? process.execPath;
  const results = new Map<Client, number[]>(CLIENTS.map((name) => [name, []]));
  console.log(`page ${text.length} bytes, ${gzipped.length} gzipped; ${reps} cold runs per client on ${execFileSync(node, ['--version']).toString().trim()}${process.env.BENCH_UNDICI ? `, undici from ${process.env.BENCH_UNDICI}` : ''}`);
  for (let rep = 0; rep < reps; rep++) {
    for (const name of CLIENTS) {
      const output = await runChild(node, name, base, text.length);
      results.get(name)!.push(JSON.parse(output).cpuUsPerRequest as number);
    }
  }
  server.close();
  for (const [name, values] of results) {
    const ms = (us: number) => (us / 1000).toFixed(2);
    console.log(`${name.padEnd(28)} CPU per request: median ${ms(median(values))} ms, min ${ms(Math.min(...values))}, max ${ms(Math.max(...values))} (${values.map(ms).join(' ')})`);
  }
}

async function runChild(node: string, name: Client, base: string, length: number): Promise<string> {
  const child = spawn(node, ['--import', 'tsx', import.meta.filename, 'client', name, base, String(length)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`${name} exited with ${code}`);
  return output.trim().split('\n').at(-1)!;
}

if (process.argv[2] === 'client') await clientRun(process.argv[3] as Client, process.argv[4]!, Number(process.argv[5]));
else await main();
