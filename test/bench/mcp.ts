// Benchmark 5, the MCP server: `trend` over 365 days and `correlate` over 3 years, called through the SDK's own
// client over Streamable HTTP against POST /mcp (each call one HTTP request: a server and a transport built
// for it, the tool's SQL over whoop_daily, the JSON answer). Baseline in the same run: a bare `SELECT 1`
// round trip on the app's own pool. The member's 3 years and a month of records are written with the sync's
// own upserts (a sync covers at most 365 days), so no WHOOP request is involved.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { correlate as correlateQuery, trend as trendQuery } from '../../src/reports/analysis.js';
import { addDays as shiftDay } from '../../src/reports/days.js';
import { RESOURCES } from '../../src/sync/collections.js';
import { RESOURCE_SPECS, toRow, upsertSql } from '../../src/sync/resources.js';
import { startBenchEnvironment } from './environment.js';
import { checkInterrupted, onCleanup, percentile, round, scoped } from './util.js';

export interface McpOptions {
  historyDays: number;
  calls: number;
  warmupCalls: number;
}

interface Latency {
  p50: number;
  p99: number;
  max: number;
}

export interface McpResult {
  historyDays: number;
  calls: number;
  selectOne: Latency;
  /** tools/list: a request's server and transport and the protocol, without SQL. */
  listTools: Latency;
  trend365: Latency;
  correlate3y: Latency;
  /** The same two questions' SQL alone (src/reports/analysis.ts on the app's pool), without the protocol. */
  trendSql: Latency;
  correlateSql: Latency;
  /** p50 and p99 of each tool call over the SELECT 1 round trip's. */
  ratios: { trendP50: number; trendP99: number; correlateP50: number; correlateP99: number };
  whoopRequestsDuringCalls: number;
  problems: string[];
}

const TOKEN = 'bench-mcp-token-0123456789abcdef-0123456789';

async function time(calls: number, fn: () => Promise<unknown>): Promise<Latency> {
  const samples: number[] = [];
  for (let i = 0; i < calls; i++) {
    checkInterrupted();
    const started = performance.now();
    await fn();
    samples.push(performance.now() - started);
  }
  samples.sort((a, b) => a - b);
  const at = (p: number) => round(percentile(samples, p), 3);
  return { p50: at(50), p99: at(99), max: round(samples.at(-1)!, 3) };
}

export async function mcpBenchmark(options: McpOptions, progress: (line: string) => void): Promise<McpResult> {
  return scoped(async () => {
    progress(`mcp: ${options.historyDays} days of history written with the sync's upserts`);
    const env = await startBenchEnvironment({ generate: { days: options.historyDays }, env: { MCP_TOKEN: TOKEN }, logLevel: 'warn' });
    onCleanup('mcp environment', () => env.close());
    const { db } = env.app.app;
    const data = env.whoop.data;
    const sleepStarts = new Map(data.sleeps.map((sleep) => [sleep.id, sleep.start]));
    const records = { cycles: data.cycles, recoveries: data.recoveries, sleeps: data.sleeps, workouts: data.workouts };
    for (const name of RESOURCES) {
      const spec = RESOURCE_SPECS[name];
      const rows = (records[name] as unknown[]).map((record) => toRow(spec, record, sleepStarts));
      const sql = upsertSql(spec);
      for (let i = 0; i < rows.length; i += 500) await db.execute(sql, [JSON.stringify(rows.slice(i, i + 500))]);
    }
    await db.execute('ANALYZE');

    const client = new Client({ name: 'whoop-sync-bench', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${env.app.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${TOKEN}` } } }),
    );
    onCleanup('mcp client', () => client.close());
    const newest = data.cycles.filter((c) => c.end !== null).map((c) => c.end!).sort().at(-1)!.slice(0, 10);
    const call = async (name: string, args: Record<string, unknown>) => {
      type Result = { isError?: boolean; content: { text: string }[] };
      const result = (await client.callTool({ name, arguments: args })) as Result;
      if (result.isError) throw new Error(`${name} answered a tool error: ${result.content[0]?.text}`);
      return JSON.parse(result.content[0]!.text) as Record<string, unknown>;
    };
    const trend = () => call('trend', { metric: 'hrv_ms', days: 365, to: newest });
    const correlate = () => call('correlate', { x: 'day_strain', y: 'recovery_pct', lag_days: 1, days: 1095, to: newest });
    const problems: string[] = [];
    const pairs = (await correlate()).n as number;
    if (pairs < 1000) problems.push(`mcp: correlate over 3 years found only ${pairs} pairs`);
    if (((await trend()).days_with_value as number) < 300) problems.push('mcp: trend over 365 days found fewer than 300 days');

    progress(`mcp: ${options.warmupCalls} warm-up calls each, then ${options.calls} timed calls each`);
    for (let i = 0; i < options.warmupCalls; i++) {
      await db.query('SELECT 1');
      await trend();
      await correlate();
    }
    env.whoop.resetStats();
    const selectOne = await time(options.calls, () => db.query('SELECT 1'));
    const listTools = await time(options.calls, () => client.listTools());
    const trend365 = await time(options.calls, trend);
    const correlate3y = await time(options.calls, correlate);
    const userId = String(env.member.user_id);
    const year = { from: shiftDay(newest, -364), to: newest };
    const threeYears = { from: shiftDay(newest, -1094), to: newest };
    const trendSql = await time(options.calls, () => trendQuery(db, userId, 'hrv_ms', year));
    const correlateSql = await time(options.calls, () => correlateQuery(db, userId, 'day_strain', 'recovery_pct', 1, threeYears));
    const whoopRequestsDuringCalls = env.whoop.stats.requests.length;
    return {
      historyDays: options.historyDays,
      calls: options.calls,
      selectOne,
      listTools,
      trend365,
      correlate3y,
      trendSql,
      correlateSql,
      ratios: {
        trendP50: round(trend365.p50 / selectOne.p50, 1),
        trendP99: round(trend365.p99 / selectOne.p99, 1),
        correlateP50: round(correlate3y.p50 / selectOne.p50, 1),
        correlateP99: round(correlate3y.p99 / selectOne.p99, 1),
      },
      whoopRequestsDuringCalls,
      problems,
    };
  });
}
