// Exports over real HTTP and from the CLI: the rows of whoop_daily and of each record table for a member and
// a range, as CSV (parsed by an independent RFC 4180 parser) and JSON; who may download them; bad requests;
// and a large export streaming from the database instead of being gathered first.
import { request, type IncomingMessage } from 'node:http';
import { parse } from 'csv-parse/sync';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXPORT_CLI_ENTRY } from '../support/compiled.js';
import { startEnvironment, type Environment } from '../support/environment.js';
import { runCli } from '../support/server-process.js';
import { expectedDays } from '../support/expected-days.js';
import { storedRows } from '../support/records.js';

const TOKEN = 'export-token-for-tests-0123456789abcdef-01';
const PASSWORD = 'export-dashboard-password';
const DAY_MS = 86_400_000;
const shift = (day: string, days: number) => new Date(Date.parse(`${day}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);

function localDate(iso: string, offset: string): string {
  const match = /^([+-])(\d\d):(\d\d)$/.exec(offset)!;
  const minutes = (match[1] === '-' ? -1 : 1) * (Number(match[2]) * 60 + Number(match[3]));
  return new Date(Date.parse(iso) + minutes * 60_000).toISOString().slice(0, 10);
}


const runExportCli = (args: string[], env: Record<string, string>) => runCli(EXPORT_CLI_ENTRY, args, env);

describe('exports', () => {
  let env: Environment;
  let member: string;
  let newest: string;
  const auth = { authorization: `Bearer ${TOKEN}` };
  const get = (path: string, headers: Record<string, string> = auth) => fetch(`${env.app.url}${path}`, { headers, redirect: 'manual' });
  const csv = async (path: string) => {
    const response = await get(path);
    expect(response.status).toBe(200);
    return parse(await response.text(), { columns: true }) as Record<string, string>[];
  };

  beforeAll(async () => {
    env = await startEnvironment({ days: 40, env: { MCP_TOKEN: TOKEN, DASHBOARD_PASSWORD: PASSWORD } });
    expect((await env.connect()).status).toBe(200);
    expect((await env.app.app.sync.syncAll({ days: 45, trigger: 'cli', requestedBy: 'test' })).status).toBe('succeeded');
    member = String(env.member.user_id);
    newest = expectedDays(env.whoop.data, env.member.user_id).at(-1)!.day;
  }, 120_000);
  afterAll(async () => env?.close());

  it('daily as CSV: a header row, one row per day of the range, the values of the fake\'s records', async () => {
    const from = shift(newest, -9);
    const response = await get(`/export/daily.csv?member=${member}&from=${from}&to=${newest}`);
    expect(response.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(response.headers.get('content-disposition')).toBe(`attachment; filename="whoop-daily-${member}-${from}-${newest}.csv"`);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const text = await response.text();
    expect(text.split('\r\n')[0]).toMatch(/^user_id,day,cycle_id,cycle_start,/);
    const rows = parse(text, { columns: true }) as Record<string, string>[];
    const expected = expectedDays(env.whoop.data, env.member.user_id).filter((d) => d.day >= from);
    expect(rows.map((row) => row.day)).toEqual(expected.map((d) => d.day));
    for (const [i, day] of expected.entries()) {
      expect(rows[i]!.user_id).toBe(member);
      expect(rows[i]!.cycle_start).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(rows[i]!.recovery_score).toBe(day.recovery === undefined ? '' : String(day.recovery));
      expect(rows[i]!.hrv_rmssd_milli === '' ? undefined : Number(rows[i]!.hrv_rmssd_milli)).toBe(day.hrv);
      expect(rows[i]!.day_strain === '' ? undefined : Number(rows[i]!.day_strain)).toBe(day.strain);
    }
  });

  it('each record table as CSV and JSON: the stored rows of the member and range', async () => {
    const from = shift(newest, -19);
    for (const table of ['cycles', 'recoveries', 'sleeps', 'workouts'] as const) {
      const rows = await csv(`/export/${table}.csv?member=${member}&from=${from}`);
      const json = (await (await get(`/export/${table}.json?member=${member}&from=${from}`)).json()) as Record<string, unknown>[];
      expect(json.length).toBe(rows.length);
      const stored = await storedRows(env.app.app.db, `whoop_${table}`, { user_id: BigInt(member) });
      const key = table === 'recoveries' ? 'cycle_id' : 'id';
      const time = table === 'recoveries' ? 'sleep_start' : 'start';
      const offsets = new Map(env.whoop.data.cycles.map((c) => [String(c.id), c.timezone_offset]));
      const inRange = stored.filter((row) => {
        const offset = table === 'recoveries' ? offsets.get(String(row.cycle_id))! : (row.timezone_offset as string);
        return localDate((row[time] as Date).toISOString(), offset) >= from;
      });
      expect(rows.map((row) => row[key]).sort()).toEqual(inRange.map((row) => String(row[key])).sort());
      expect(json.map((row) => row[key]).sort()).toEqual(rows.map((row) => row[key]).sort());
      for (const row of rows) {
        const original = inRange.find((s) => String(s[key]) === row[key])!;
        expect(row[time]).toBe((original[time] as Date).toISOString());
        expect(row.score_state).toBe(original.score_state);
        expect(row).not.toHaveProperty('raw');
      }
      expect(rows.length).toBeGreaterThan(0);
    }
  });

  it('quotes fields per RFC 4180 and keeps the values exact', async () => {
    const db = env.app.app.db;
    const [workout] = await storedRows(db, 'whoop_workouts', { user_id: BigInt(member) }, 'start');
    const hostile = 'trail "run", long\r\nsecond line';
    await db.execute('UPDATE whoop_workouts SET sport_name = $1 WHERE id = $2', [hostile, workout!.id]);
    const rows = await csv(`/export/workouts.csv?member=${member}`);
    expect(rows.find((row) => row.id === workout!.id)!.sport_name).toBe(hostile);
    const json = (await (await get(`/export/workouts.json?member=${member}`)).json()) as { id: string; sport_name: string }[];
    expect(json.find((row) => row.id === workout!.id)!.sport_name).toBe(hostile);
  });

  it('allows a dashboard sign-in or the token, and nothing else', async () => {
    const path = `/export/daily.csv?member=${member}`;
    for (const headers of [{} as Record<string, string>, { authorization: 'Bearer wrong' }, { authorization: TOKEN }, { cookie: 'whoop_sync_session=forged' }]) {
      const response = await get(path, headers);
      expect(response.status).toBe(401);
      expect(await response.text()).not.toMatch(new RegExp(member));
    }
    const form = await fetch(`${env.app.url}/login`);
    const cookie = form.headers.getSetCookie()[0]!.split(';')[0]!;
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1]!;
    const login = await fetch(`${env.app.url}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
      body: new URLSearchParams({ _csrf: csrf, password: PASSWORD }).toString(),
    });
    expect(login.status).toBe(303);
    const session = login.headers.getSetCookie()[0]!.split(';')[0]!;
    const response = await get(path, { cookie: session });
    expect(response.status).toBe(200);
    expect(await response.text()).toMatch(/^user_id,day,/);
  });

  it('refuses bad requests with a 4xx', async () => {
    const cases: [string, number][] = [
      ['/export/daily.xml', 400],
      ['/export/whoop_tokens.csv', 400],
      ['/export/daily.csv?member=abc', 400],
      ['/export/daily.csv?member=1;DROP', 400],
      [`/export/daily.csv?member=${'9'.repeat(30)}`, 400],
      // Digits the pattern allows but PostgreSQL's bigint does not hold.
      ['/export/daily.csv?member=9223372036854775808', 400],
      [`/export/daily.csv?member=${'9'.repeat(19)}`, 400],
      ['/export/daily.csv?member=9223372036854775807', 404],
      ['/export/daily.csv?from=2026-13-01', 400],
      ['/export/daily.csv?from=2026-02-30', 400],
      // PostgreSQL has no year 0; nothing before 1900 is asked for.
      ['/export/daily.csv?from=0000-01-01', 400],
      ['/export/cycles.json?to=0000-12-31', 400],
      ['/export/daily.csv?from=1899-12-31', 400],
      ['/export/daily.csv?from=2026-03-01&to=2026-02-01', 400],
      ['/export/daily.csv?member=1', 404],
      ['/export/..%2F..%2Fetc%2Fpasswd', 400],
    ];
    for (const [path, status] of cases) expect((await get(path)).status, path).toBe(status);
  });

  it('npm run export writes the same CSV as the route', async () => {
    const from = shift(newest, -5);
    const viaHttp = await (await get(`/export/sleeps.csv?member=${member}&from=${from}`)).text();
    const cli = await runExportCli(['--table', 'sleeps', '--format', 'csv', '--member', member, '--since', from], env.db.env);
    expect(cli.stderr).toBe('');
    expect(cli.code).toBe(0);
    expect(cli.stdout).toBe(viaHttp);
    const bad = await runExportCli(['--table', 'tokens'], env.db.env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--table must be one of daily, cycles/);
  });

  it('streams a large export from the database as it is read: a stalled reader holds the query open, not the rows in memory', async () => {
    const db = env.app.app.db;
    const ROWS = 150_000;
    // A long workout history of a second member, written straight into the table.
    await db.execute(`INSERT INTO whoop_users (user_id, first_name) VALUES (99, 'Long') ON CONFLICT DO NOTHING`);
    await db.execute(
      `INSERT INTO whoop_workouts (id, user_id, start, "end", timezone_offset, sport_name, score_state, strain, raw, created_at, updated_at, synced_at)
       SELECT gen_random_uuid(), 99, t, t + interval '45 minutes', '+00:00', 'running, "long"', 'SCORED', 10.5, '{}'::jsonb, t, t, now()
       FROM generate_series(timestamptz '2015-01-01', timestamptz '2015-01-01' + ($1::int - 1) * interval '30 minutes', interval '30 minutes') t`,
      [ROWS],
    );
    const url = new URL(`${env.app.url}/export/workouts.csv?member=99`);
    const observer = new pg.Client({ connectionString: env.db.databaseUrl });
    let response: IncomingMessage | undefined;
    await observer.connect();
    try {
      let received = 0;
      let text = '';
      const stream = await new Promise<IncomingMessage>((resolve, reject) =>
        request(url, { headers: auth }, resolve).on('error', reject).end(),
      );
      response = stream;
      expect(stream.statusCode).toBe(200);
      stream.on('data', (chunk: Buffer) => {
        received += chunk.length;
        text += chunk.toString();
      });
      // Read a little, then stop reading: the socket's buffers fill and the server must wait.
      await new Promise((resolve) => stream.once('data', resolve));
      stream.pause();
      let last = -1;
      while (received !== last) {
        last = received;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      const [activity] = (
        await observer.query<{ state: string }>(
          `SELECT state FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'SELECT t."id"::text AS "id", t."user_id"::text%' AND pid <> pg_backend_pid()`,
        )
      ).rows;
      // The export's statement is still open on its connection: rows are fetched as the reader takes them.
      expect(activity?.state).toMatch(/active|idle in transaction/);
      const total = 150_000 * 250;
      expect(received).toBeLessThan(total / 4);
      stream.resume();
      await new Promise((resolve) => stream.once('end', resolve));
      const rows = parse(text, { columns: true }) as Record<string, string>[];
      expect(rows).toHaveLength(ROWS);
      expect(rows[0]!.sport_name).toBe('running, "long"');
      expect(rows.at(-1)!.start).toBe(new Date(Date.parse('2015-01-01T00:00:00Z') + (ROWS - 1) * 1_800_000).toISOString());
      // And once read to the end, the connection is back in the pool, its statement finished.
      const after = await observer.query(
        `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND state <> 'idle' AND query LIKE 'SELECT t."id"::text AS "id", t."user_id"::text%'`,
      );
      expect(after.rows).toHaveLength(0);
    } finally {
      response?.destroy();
      await observer.end();
      await db.execute('DELETE FROM whoop_workouts WHERE user_id = 99');
      await db.execute('DELETE FROM whoop_users WHERE user_id = 99');
    }
  }, 120_000);
});
