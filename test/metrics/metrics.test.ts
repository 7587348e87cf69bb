import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEnvironment, type Environment } from '../support/environment.js';
import { expectedIds } from '../support/expected.js';
import { settled } from '../support/settled.js';

/** promtool, when installed (CI provides it through PROMTOOL; locally it may be on PATH). */
const PROMTOOL = process.env.PROMTOOL || (spawnSync('sh', ['-c', 'command -v promtool']).stdout?.toString().trim() ?? '');

/** The value of one sample in a Prometheus text exposition, or 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labelText = line.slice(name.length).split(' ')[0]!;
    if (wanted.every((pair) => labelText.includes(pair))) return Number(line.split(' ').at(-1));
  }
  return 0;
}

describe('GET /metrics and GET /status', () => {
  let env: Environment;
  const TOKEN = 'metrics-token-for-tests';
  const get = (path: string, token: string | null = TOKEN) =>
    fetch(`${env.app.url}${path}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});

  beforeAll(async () => {
    env = await startEnvironment({ days: 10, env: { METRICS_TOKEN: TOKEN } });
    expect((await env.connect()).status).toBe(200);
  });
  afterAll(async () => env?.close());

  it('requires the bearer token when METRICS_TOKEN is set', async () => {
    for (const path of ['/metrics', '/status']) {
      expect((await get(path, null)).status).toBe(401);
      expect((await get(path, 'wrong')).status).toBe(401);
      const basic = await fetch(`${env.app.url}${path}`, { headers: { authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}` } });
      expect(basic.status).toBe(401);
      expect((await get(path)).status).toBe(200);
    }
  });

  it('moves the sync counters, the histogram and the last-success time after a /sync', async () => {
    const before = await (await get('/metrics')).text();
    await env.command('3');
    await env.slack.waitForMessages(1);
    await settled(env.app.app.db);
    const after = await (await get('/metrics')).text();
    expect(sample(after, 'whoop_sync_runs_total', { trigger: 'slack', outcome: 'succeeded' })).toBe(
      sample(before, 'whoop_sync_runs_total', { trigger: 'slack', outcome: 'succeeded' }) + 1,
    );
    expect(sample(after, 'whoop_sync_duration_seconds_count', { trigger: 'slack' })).toBe(1);
    const run = await env.app.app.db.prisma.syncRun.findFirstOrThrow({ where: { trigger: 'slack' }, orderBy: { id: 'desc' } });
    const expected = expectedIds(env.whoop, env.member.user_id, { start: run.windowStart!, end: run.windowEnd! });
    expect(expected.cycles.length).toBeGreaterThanOrEqual(2); // 2 or 3 for 3 days, by the time of day
    const written = (text: string) => sample(text, 'whoop_sync_records_written_total', { resource: 'cycles' });
    expect(written(after) - written(before)).toBe(expected.cycles.length);
    expect(sample(after, 'whoop_sync_last_success_timestamp_seconds')).toBeGreaterThan(Date.now() / 1000 - 60);
    expect(sample(after, 'whoop_api_requests_total', { endpoint: 'cycle', status_class: '2xx' })).toBeGreaterThan(0);
    expect(sample(after, 'whoop_sync_slack_commands_total', { outcome: 'accepted' })).toBe(1);
    expect(sample(after, 'whoop_token_refreshes_total', { outcome: 'succeeded' })).toBe(0);
    expect(after).toContain('process_resident_memory_bytes');
    expect(after).toContain('nodejs_eventloop_lag_seconds');
  });

  it('keeps label values bounded: no URLs, ids or free text', async () => {
    const text = await (await get('/metrics')).text();
    const values = [...text.matchAll(/(\w+)="([^"]*)"/g)].map(([, key, value]) => `${key}=${value}`);
    for (const value of values) expect(value).not.toMatch(/\/|https?:|\d{4,}|\s/);
  });

  it('serves valid Prometheus exposition format', async () => {
    const text = await (await get('/metrics')).text();
    for (const line of text.split('\n').filter((l) => l !== '')) {
      expect(line).toMatch(/^(# (HELP|TYPE) \w+ .+|\w+(\{[^}]*\})? [-+0-9.eE]+|\w+(\{[^}]*\})? (NaN|[+-]Inf))$/i);
    }
    if (PROMTOOL) {
      // Exit 1 is a format error; exit 3 means lint findings only. prom-client's default process metrics
      // carry three (`nodejs_active_*_total` gauges); this service's own metrics must have none.
      const result = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text });
      const findings = `${result.stdout}${result.stderr}`.split('\n').filter(Boolean);
      expect(findings.filter((line) => !/^nodejs_active_\w+_total non-counter metrics/.test(line))).toEqual([]);
      expect([0, 3]).toContain(result.status);
    }
  });

  it('/status lists the accounts, recent runs and schedules without secrets or health values', async () => {
    const response = await get('/status');
    const body = (await response.json()) as { recentRuns: Record<string, unknown>[] };
    expect(body).toMatchObject({
      accounts: [{ userId: String(env.member.user_id), name: 'Jo Tester', status: 'active', reauthorizationRequired: false }],
      connectUrl: `${env.config.publicUrl}/dashboard`,
      schedules: [],
    });
    expect(body.recentRuns[0]).toMatchObject({ trigger: 'slack', days: 3, status: 'succeeded', error: null });
    expect(typeof body.recentRuns[0]!.durationMs).toBe('number');
    const token = await env.app.app.db.prisma.whoopToken.findFirstOrThrow();
    const text = JSON.stringify(body);
    expect(text).not.toContain(token.accessToken);
    expect(text).not.toContain(token.refreshToken!);
    expect(text).not.toMatch(/strain|recovery_score|heart_rate|email/);
  });
});
