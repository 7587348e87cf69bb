// Shared helpers of the benchmark suite (`npm run bench`): cleanup that survives failures and signals,
// percentiles, loopback checks, machine information and table formatting.
import { readFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import pg from 'pg';

// ----- cleanup ---------------------------------------------------------------------------------------------

/** Set on SIGINT/SIGTERM: no new benchmark starts, and the run ends after cleaning up. */
export const interruption = { requested: false };

/** Throws once an interruption was requested: long steps call it before they start. */
export function checkInterrupted(): void {
  if (interruption.requested) throw new Error('interrupted');
}

type Cleanup = { label: string; run: () => Promise<void> | void };
const pending: Cleanup[] = [];

/** Registers a cleanup step; returns a function that runs it now (once) and unregisters it. */
export function onCleanup(label: string, run: () => Promise<void> | void): () => Promise<void> {
  const entry: Cleanup = { label, run };
  pending.push(entry);
  return async () => {
    const index = pending.indexOf(entry);
    if (index === -1) return;
    pending.splice(index, 1);
    await runStep(entry);
  };
}

async function runStep(entry: Cleanup): Promise<void> {
  try {
    await withTimeout(Promise.resolve().then(entry.run), 30_000, `cleanup "${entry.label}"`);
  } catch (error) {
    console.error(`bench: cleanup "${entry.label}" failed: ${(error as Error).message}`);
  }
}

/** Runs every registered cleanup step, newest first. */
export async function cleanupAll(): Promise<void> {
  while (pending.length > 0) await runStep(pending.pop()!);
}

/** Runs `fn`, then the cleanup steps it registered (newest first), whether it succeeded or not. */
export async function scoped<T>(fn: () => Promise<T>): Promise<T> {
  const mark = pending.length;
  try {
    return await fn();
  } finally {
    while (pending.length > mark) await runStep(pending.pop()!);
  }
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${Math.round(ms / 1000)} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ----- statistics ------------------------------------------------------------------------------------------

/** Nearest-rank percentile of an ascending-sorted array. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function round(value: number, digits = 2): number {
  if (!Number.isFinite(value)) return value;
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

// ----- loopback only ---------------------------------------------------------------------------------------

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** Throws unless `url` points at this machine's loopback interface. */
export function assertLoopback(url: string, what: string): void {
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    throw new Error(`${what} is not a valid URL`);
  }
  if (!LOOPBACK.has(host)) throw new Error(`${what} points at ${host}; the benchmarks only ever target 127.0.0.1`);
}

export const DEFAULT_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/** The Postgres server the footprint benchmark uses: TEST_DATABASE_URL, else the default local one. */
export function postgresBaseUrl(): string {
  return process.env.TEST_DATABASE_URL || DEFAULT_POSTGRES_URL;
}

/** Postgres server version when reachable within 2 s, else undefined. */
export async function postgresVersion(url: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    const { rows } = await client.query<{ server_version: string }>('SHOW server_version');
    return rows[0]?.server_version;
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => {});
  }
}

export async function adminQuery(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  client.on('error', () => {});
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Removes the password from a connection URL for printing. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'postgres';
  }
}

// ----- machine -----------------------------------------------------------------------------------------------

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  platform: string;
  database: string;
  postgresVersion?: string;
  loadAverage: string;
  /** The 1-minute load average exceeds 3/4 of the cores before anything started. */
  busy: boolean;
}

export async function machineInfo(): Promise<MachineInfo> {
  const cpuinfo = await readFile('/proc/cpuinfo', 'utf8').catch(() => '');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown';
  const meminfo = await readFile('/proc/meminfo', 'utf8').catch(() => '');
  const memKb = Number(/^MemTotal:\s*(\d+)/m.exec(meminfo)?.[1] ?? 0);
  const testUrl = process.env.TEST_DATABASE_URL || undefined;
  const info: MachineInfo = {
    cpu: model,
    cores: cpus().length,
    memoryGiB: round(memKb / 1024 / 1024, 1),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    database: testUrl ? `postgres (${redactUrl(testUrl)})` : 'embedded PostgreSQL server (set TEST_DATABASE_URL for another server)',
    loadAverage: loadavg().map((n) => n.toFixed(2)).join(' '),
    busy: loadavg()[0]! > cpus().length * 0.75,
  };
  const version = await postgresVersion(postgresBaseUrl());
  if (version) info.postgresVersion = version;
  return info;
}

// ----- output ----------------------------------------------------------------------------------------------

export type Cell = string | number | undefined;

/** A plain-text table with a header row; numbers are right-aligned. */
export function table(header: string[], rows: Cell[][]): string {
  const text = (cell: Cell | null) => (cell === undefined || cell === null ? '' : typeof cell === 'number' ? formatNumber(cell) : cell);
  const cells = [header, ...rows.map((row) => row.map(text))];
  const widths = header.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? '').length)));
  const numeric = header.map((_, column) => rows.every((row) => row[column] === undefined || typeof row[column] === 'number'));
  const line = (row: string[]) =>
    row.map((cell, column) => (numeric[column] && column > 0 ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!))).join('  ').trimEnd();
  return [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return String(value);
  const abs = Math.abs(value);
  return value.toFixed(abs >= 100 ? 0 : abs >= 10 ? 1 : 2);
}
