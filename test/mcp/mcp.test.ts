// The MCP server end to end: the SDK's own client over Streamable HTTP against the real app, synced from the
// fake WHOOP. Every number is checked against a value computed here from the fake's records.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEnvironment, type Environment } from '../support/environment.js';
import { expectedDays, type ExpectedDay } from '../support/expected-days.js';

const TOKEN = 'mcp-token-for-tests-0123456789abcdef-0123';
const DAYS = 120;
const DAY_MS = 86_400_000;
const shift = (day: string, days: number) => new Date(Date.parse(`${day}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
const mean = (values: number[]) =>
  values.length === 0 ? null : values.reduce((sum, value) => sum + value, 0) / values.length;
const defined = <T>(values: (T | undefined)[]) => values.filter((value): value is T => value !== undefined);

/** Each metric of a day, as the tools define it, from the fake's records. */
const METRIC: Record<string, (day: ExpectedDay) => number | undefined> = {
  recovery_pct: (d) => d.recovery,
  hrv_ms: (d) => d.hrv,
  resting_hr_bpm: (d) => d.rhr,
  sleep_hours: (d) => (d.asleepMs === undefined ? undefined : d.asleepMs / 3_600_000),
  sleep_performance_pct: (d) => d.performance,
  sleep_efficiency_pct: (d) => d.efficiency,
  day_strain: (d) => (d.cycleEnded ? d.strain : undefined),
};

function localDate(iso: string, offset: string): string {
  const match = /^([+-])(\d\d):(\d\d)$/.exec(offset)!;
  const minutes = (match[1] === '-' ? -1 : 1) * (Number(match[2]) * 60 + Number(match[3]));
  return new Date(Date.parse(iso) + minutes * 60_000).toISOString().slice(0, 10);
}

function slopePerWeek(points: { x: number; y: number }[]): number {
  const mx = mean(points.map((p) => p.x))!;
  const my = mean(points.map((p) => p.y))!;
  const num = points.reduce((sum, p) => sum + (p.x - mx) * (p.y - my), 0);
  const den = points.reduce((sum, p) => sum + (p.x - mx) ** 2, 0);
  return (num / den) * 7;
}

function pearson(pairs: [number, number][]): number {
  const mx = mean(pairs.map((p) => p[0]))!;
  const my = mean(pairs.map((p) => p[1]))!;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (const [x, y] of pairs) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
    syy += (y - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

describe('MCP server (POST /mcp)', () => {
  let env: Environment;
  let client: Client;
  let days: ExpectedDay[];
  let newest: string;

  const connectClient = async (headers: Record<string, string>) => {
    const transport = new StreamableHTTPClientTransport(new URL(`${env.app.url}/mcp`), { requestInit: { headers } });
    const c = new Client({ name: 'whoop-sync-test', version: '1.0.0' });
    await c.connect(transport);
    return c;
  };
  const call = async (name: string, args: Record<string, unknown> = {}) => {
    type Result = { content: { type: string; text: string }[]; isError?: boolean };
    const result = (await client.callTool({ name, arguments: args })) as Result;
    return { isError: result.isError === true, text: result.content[0]!.text };
  };
  const data = async (name: string, args: Record<string, unknown> = {}) => {
    const result = await call(name, args);
    expect(result.isError, result.text).toBe(false);
    return JSON.parse(result.text);
  };
  const valueOf = (metric: string, day: string) => {
    const found = days.find((d) => d.day === day);
    return found ? METRIC[metric]!(found) : undefined;
  };

  beforeAll(async () => {
    env = await startEnvironment({ days: DAYS, env: { MCP_TOKEN: TOKEN } });
    expect((await env.connect()).status).toBe(200);
    const outcome = await env.app.app.sync.syncAll({ days: DAYS + 5, trigger: 'cli', requestedBy: 'test' });
    expect(outcome.status).toBe('succeeded');
    days = expectedDays(env.whoop.data, env.member.user_id);
    newest = days.at(-1)!.day;
    client = await connectClient({ authorization: `Bearer ${TOKEN}` });
    env.whoop.resetStats();
  }, 120_000);
  afterAll(async () => {
    await client?.close();
    await env?.close();
  });

  it('lists its read-only tools and the weekly_review prompt', async () => {
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual(
      ['compare_periods', 'correlate', 'daily', 'latest', 'sleep', 'sync_status', 'trend', 'workouts'],
    );
    for (const tool of tools) {
      expect(tool.annotations?.readOnlyHint).toBe(true);
      expect(tool.description!.length).toBeGreaterThan(80);
    }
    expect(tools.find((tool) => tool.name === 'trend')!.description).toMatch(/YYYY-MM-DD/);
    const { prompts } = await client.listPrompts();
    expect(prompts.map((prompt) => prompt.name)).toEqual(['weekly_review']);
    const prompt = await client.getPrompt({ name: 'weekly_review', arguments: {} });
    expect((prompt.messages[0]!.content as { text: string }).text).toMatch(/compare_periods/);
  });

  it('daily: the rows of the period', async () => {
    const from = shift(newest, -13);
    const result = await data('daily', { from, to: newest });
    expect(result.member_id).toBe(String(env.member.user_id));
    const column = (name: string) => result.columns.indexOf(name) as number;
    const expected = days.filter((d) => d.day >= from && d.day <= newest);
    expect(result.rows.map((row: unknown[]) => row[column('day')])).toEqual(expected.map((d) => d.day));
    for (const [i, day] of expected.entries()) {
      const row = result.rows[i] as (number | null)[];
      for (const metric of Object.keys(METRIC)) {
        const value = METRIC[metric]!(day);
        if (value === undefined) expect(row[column(metric)]).toBeNull();
        else expect(row[column(metric)]).toBeCloseTo(value, 1);
      }
    }
  });

  it('trend: mean, min, max, slope per week and the change against the previous period', async () => {
    const from = shift(newest, -29);
    const result = await data('trend', { metric: 'hrv_ms', days: 30, to: newest });
    expect(result).toMatchObject({ metric: 'hrv_ms', unit: 'ms', from, to: newest });
    const points = days.filter((d) => d.day >= from && d.hrv !== undefined);
    const values = points.map((d) => d.hrv!);
    expect(result.days_with_value).toBe(points.length);
    expect(result.mean).toBeCloseTo(mean(values)!, 1);
    expect(result.min).toBeCloseTo(Math.min(...values), 1);
    expect(result.max).toBeCloseTo(Math.max(...values), 1);
    expect(valueOf('hrv_ms', result.max_day)).toBeCloseTo(Math.max(...values), 5);
    const x = (day: string) => (Date.parse(day) - Date.parse(from)) / DAY_MS;
    expect(result.slope_per_week).toBeCloseTo(slopePerWeek(points.map((d) => ({ x: x(d.day), y: d.hrv! }))), 2);
    const previous = defined(days.filter((d) => d.day >= shift(from, -30) && d.day < from).map((d) => d.hrv));
    const previousPeriod = { from: shift(from, -30), to: shift(from, -1), days_with_value: previous.length };
    expect(result.previous_period).toMatchObject(previousPeriod);
    expect(result.change_vs_previous).toBeCloseTo(mean(values)! - mean(previous)!, 1);
  });

  it('compare_periods: every metric in both periods', async () => {
    const a = { from: shift(newest, -59), to: shift(newest, -30) };
    const b = { from: shift(newest, -29), to: newest };
    const result = await data('compare_periods', { a_from: a.from, a_to: a.to, b_from: b.from, b_to: b.to });
    for (const metric of Object.keys(METRIC)) {
      const row = result.rows.find((r: unknown[]) => r[0] === metric) as unknown[];
      const inPeriod = (p: { from: string; to: string }) =>
        defined(days.filter((d) => d.day >= p.from && d.day <= p.to).map(METRIC[metric]!));
      const [am, bm] = [mean(inPeriod(a))!, mean(inPeriod(b))!];
      expect(row, metric).toBeDefined();
      expect(row[result.columns.indexOf('a_mean')]).toBeCloseTo(am, 1);
      expect(row[result.columns.indexOf('a_days')]).toBe(inPeriod(a).length);
      expect(row[result.columns.indexOf('b_mean')]).toBeCloseTo(bm, 1);
      expect(row[result.columns.indexOf('change')]).toBeCloseTo(bm - am, 1);
    }
  });

  it('correlate: Pearson r and n of strain and the next day\'s recovery', async () => {
    const from = shift(newest, -89);
    const result = await data('correlate', { x: 'day_strain', y: 'recovery_pct', lag_days: 1, from, to: newest });
    const pairs: [number, number][] = [];
    for (const day of days.filter((d) => d.day >= from && d.day <= newest)) {
      const x = METRIC.day_strain!(day);
      const y = valueOf('recovery_pct', shift(day.day, 1));
      if (x !== undefined && y !== undefined) pairs.push([x, y]);
    }
    expect(result.n).toBe(pairs.length);
    expect(result.r).toBeCloseTo(pearson(pairs), 2);
    expect(result.lag_days).toBe(1);
  });

  it('latest: each headline value from its latest day, with the 30-day baseline', async () => {
    const result = await data('latest');
    const entry = result.members[0];
    expect(entry.member_id).toBe(String(env.member.user_id));
    for (const metric of ['recovery_pct', 'hrv_ms', 'resting_hr_bpm', 'sleep_hours', 'day_strain']) {
      const withValue = days.filter((d) => METRIC[metric]!(d) !== undefined);
      const last = withValue.at(-1)!;
      const before = days.filter((d) => d.day >= shift(last.day, -30) && d.day < last.day);
      const baseline = defined(before.map(METRIC[metric]!));
      expect(entry[metric].day).toBe(last.day);
      expect(entry[metric].value).toBeCloseTo(METRIC[metric]!(last)!, 1);
      expect(entry[metric].baseline_30d).toBeCloseTo(mean(baseline)!, 1);
      expect(entry[metric].baseline_days).toBe(baseline.length);
    }
  });

  it('workouts: by sport, by the local date they started', async () => {
    const from = shift(newest, -59);
    const result = await data('workouts', { from, to: newest });
    const workouts = env.whoop.data.workouts.filter((w) => {
      const day = localDate(w.start, w.timezone_offset);
      return day >= from && day <= newest;
    });
    const sports = new Set(workouts.map((w) => w.sport_name));
    expect(result.sports.map((s: { sport: string }) => s.sport).sort()).toEqual([...sports].sort());
    for (const summary of result.sports) {
      const own = workouts.filter((w) => w.sport_name === summary.sport);
      expect(summary.workouts).toBe(own.length);
      const minutes = own.reduce((sum, w) => sum + (Date.parse(w.end) - Date.parse(w.start)) / 60_000, 0);
      expect(summary.total_minutes).toBeCloseTo(minutes, -1);
      expect(summary.mean_strain).toBeCloseTo(mean(own.map((w) => w.score!.strain))!, 1);
      const zone3 = own.reduce((sum, w) => sum + w.score!.zone_durations.zone_three_milli / 60_000, 0);
      expect(summary.zone_minutes[3]).toBeCloseTo(zone3, -1);
    }
    const one = result.sports[0].sport as string;
    const filtered = await data('workouts', { from, to: newest, sport: one.toUpperCase() });
    expect(filtered.sports).toHaveLength(1);
  });

  it('sleep: nights, hours asleep, performance, shortest night', async () => {
    const from = shift(newest, -29);
    const result = await data('sleep', { from, to: newest });
    const nights = days.filter((d) => d.day >= from && d.asleepMs !== undefined);
    expect(result.nights).toBe(nights.length);
    expect(result.mean_asleep_hours).toBeCloseTo(mean(nights.map((d) => d.asleepMs! / 3_600_000))!, 2);
    expect(result.mean_performance_pct).toBeCloseTo(mean(defined(nights.map((d) => d.performance)))!, 0);
    expect(result.mean_debt_hours).toBeCloseTo(mean(nights.map((d) => d.sleepDebtMs! / 3_600_000))!, 2);
    const shortest = nights.reduce((a, b) => (b.asleepMs! < a.asleepMs! ? b : a));
    expect(result.shortest.day).toBe(shortest.day);
  });

  it('sync_status: freshness and whether the account needs reconnecting', async () => {
    const result = await data('sync_status');
    expect(result.last_successful_sync).toMatch(/^\d{4}-\d\d-\d\dT/);
    const [entry] = result.members;
    expect(entry).toMatchObject({ member_id: String(env.member.user_id), name: 'Jo Tester', needs_reconnect: false, first_day: days[0]!.day, last_day: newest, days_stored: days.length });
    const newestWorkout = env.whoop.data.workouts.map((w) => w.start).sort().at(-1)!;
    expect(entry.newest_workout_start).toBe(newestWorkout.replace(/\.\d+Z$/, 'Z'));
  });

  it('made no WHOOP request during any tool call', () => {
    // Every test above called tools after the statistics were reset.
    expect(env.whoop.stats.requests).toEqual([]);
  });

  it('answers hostile or mistaken input with a tool error a person can act on, never a crash', async () => {
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['trend', { metric: 'hrv_ms', from: '2026-02-30' }, /not a date/],
      ['trend', { metric: 'hrv_ms', from: "2026-01-01'; DROP TABLE whoop_cycles; --" }, /YYYY-MM-DD/],
      ['trend', { metric: 'vibes' }, /metric must be one of/],
      ['trend', { metric: 'hrv_ms', days: 1e9 }, /at most 3660/],
      ['trend', { metric: 'hrv_ms', days: -1 }, /at least 1/],
      ['trend', { metric: 'hrv_ms', from: '2026-02-01', days: 3 }, /either from or days/],
      ['trend', { metric: 'hrv_ms', from: '2026-03-01', to: '2026-02-01' }, /swap from and to/],
      ['trend', { metric: 'hrv_ms', from: '1900-01-01', to: '2026-01-01' }, /narrow from\/to/],
      // Dates before 1900, down to year 0 (which PostgreSQL does not have), or periods reaching back there.
      ['trend', { metric: 'hrv_ms', from: '0000-01-01', to: '0000-01-01' }, /from 1900 to 9999/],
      ['daily', { to: '0001-01-05', days: 10 }, /from 1900 to 9999/],
      ['compare_periods', { a_from: '1899-12-31', a_to: '1900-01-01', b_from: '2026-01-01', b_to: '2026-01-02' }, /from 1900 to 9999/],
      ['daily', { days: 400 }, /at most 366 days/],
      ['daily', { member: "x' OR '1'='1" }, /No connected member/],
      ['daily', { member: 'x'.repeat(5000) }, /at most 100 characters/],
      ['correlate', { x: 'hrv_ms', y: 'recovery_pct', lag_days: 1.5 }, /whole number/],
      ['workouts', { sport: { $ne: 1 } }, /expected string|Invalid/i],
      ['nonexistent', {}, /not found/],
    ];
    for (const [name, args, message] of cases) {
      const result = await call(name, args);
      expect(result.isError, `${name} ${JSON.stringify(args)}`).toBe(true);
      expect(result.text).toMatch(message);
    }
    expect((await data('sync_status')).members).toHaveLength(1);
  });

  it('refuses requests without the token (401), and malformed ones with a 4xx', async () => {
    const initialize = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } } });
    const post = (headers: Record<string, string>, body: string) =>
      fetch(`${env.app.url}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers }, body });
    for (const headers of [{} as Record<string, string>, { authorization: 'Bearer wrong' }, { authorization: `Bearer ${TOKEN}x` }, { authorization: TOKEN }, { authorization: `Basic ${TOKEN}` }]) {
      const response = await post(headers, initialize);
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer');
      expect(await response.text()).not.toMatch(/Jo|hrv/);
    }
    await expect(connectClient({ authorization: 'Bearer wrong' })).rejects.toThrow();
    const auth = { authorization: `Bearer ${TOKEN}` };
    const statuses = [
      (await post(auth, '{"jsonrpc":')).status,
      (await post(auth, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'latest' } }).replace('"', ''))).status,
      (await post(auth, 'x'.repeat(100_000))).status,
      (await fetch(`${env.app.url}/mcp`, { method: 'POST', headers: { ...auth, 'content-type': 'text/plain' }, body: initialize })).status,
      (await fetch(`${env.app.url}/mcp`, { headers: auth })).status,
      (await fetch(`${env.app.url}/mcp`, { method: 'DELETE', headers: auth })).status,
    ];
    for (const status of statuses) {
      expect(status).toBeGreaterThanOrEqual(400);
      expect(status).toBeLessThan(500);
    }
    // An empty batch carries nothing to answer: accepted, and nothing else.
    expect((await post(auth, '[]')).status).toBeLessThan(300);
  });

  it('opens the exports to the token when there is no dashboard', async () => {
    const path = `${env.app.url}/export/daily.csv?member=${env.member.user_id}`;
    expect((await fetch(path)).status).toBe(401);
    const response = await fetch(path, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(response.status).toBe(200);
    expect((await response.text()).trimEnd().split('\r\n')).toHaveLength(1 + days.length);
  });

  it('limits unauthenticated requests per address', async () => {
    let limited = 0;
    for (let i = 0; i < 40; i++) {
      const response = await fetch(`${env.app.url}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      if (response.status === 429) limited++;
    }
    expect(limited).toBeGreaterThan(0);
    // A client with the token is never limited.
    expect((await data('sync_status')).members).toHaveLength(1);
  });
});
