// The service as a user runs it, checked from the outside: `npm start`'s entry point in its own process,
// WHOOP and Slack replaced by the independent fakes over HTTP, and (when its binary is available) a real
// Prometheus scraping /metrics. Prints what it checked and exits non-zero on the first failure.
//
//   node --import tsx test/e2e/live-check.ts      (PROMETHEUS_BIN=/path/to/prometheus for the scrape check)
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../src/db/database.js';
import { startFakeSlack } from '../fakes/slack-server.js';
import { startFakeWhoop } from '../fakes/whoop-server.js';
import { createTestDatabase } from '../support/database.js';
import { sendCommand, serviceEnv, signedHeaders, slashCommandBody } from '../support/environment.js';
import { expectedIds } from '../support/expected.js';
import startTestServer from '../support/global-setup.js';
import { startServerProcess } from '../support/server-process.js';

const METRICS_TOKEN = 'live-check-metrics-token';
const cleanups: (() => Promise<unknown>)[] = [];

function check(condition: unknown, what: string): asserts condition {
  if (!condition) throw new Error(`FAILED: ${what}`);
  console.log(`ok  ${what}`);
}

async function until<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  what: string,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`FAILED: timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function main(): Promise<void> {
  const whoop = await startFakeWhoop();
  cleanups.push(() => whoop.close());
  const slack = await startFakeSlack();
  cleanups.push(() => slack.close());
  const member = whoop.addMember({ first_name: 'Live' });
  whoop.generate(member.user_id, { days: 60 });
  // Outside vitest: the embedded server its globalSetup would start, unless TEST_DATABASE_URL is set.
  const stopServer = await startTestServer();
  if (stopServer) cleanups.push(stopServer);
  const database = await createTestDatabase();
  cleanups.push(() => database.drop());
  console.log(`database: ${process.env.TEST_DATABASE_URL ? 'PostgreSQL' : 'an embedded PostgreSQL server'}`);

  const server = startServerProcess({
    ...serviceEnv({ db: database, whoop, slack, seedUserId: member.user_id }),
    METRICS_TOKEN,
    SYNC_SCHEDULES: 'off',
  });
  cleanups.push(() => server.stop('SIGKILL'));
  const url = await server.listening(60_000);
  check((await fetch(`${url}/healthz`)).status === 200, `service up at ${url}`);
  await server.working();

  let prometheus: { port: number; child: ChildProcess } | undefined;
  if (process.env.PROMETHEUS_BIN) {
    const dir = await mkdtemp(join(tmpdir(), 'whoop-sync-prometheus-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const target = new URL(url);
    await writeFile(
      join(dir, 'prometheus.yml'),
      `global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: whoop-sync
    metrics_path: /metrics
    authorization: { type: Bearer, credentials: ${METRICS_TOKEN} }
    static_configs: [ { targets: ['${target.host}'] } ]
`,
    );
    const port = await freePort();
    const child = spawn(process.env.PROMETHEUS_BIN, [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ], { stdio: 'ignore' });
    cleanups.push(async () => child.kill('SIGKILL'));
    prometheus = { port, child };
    const up = await until(() => promQuery(port, 'up{job="whoop-sync"}').then((v) => (v === 1 ? v : undefined)).catch(() => undefined), 'Prometheus to scrape the target');
    check(up === 1, 'Prometheus sees the whoop-sync target up');
  } else {
    console.log('--  Prometheus scrape skipped (set PROMETHEUS_BIN)');
  }

  // Hostile requests start nothing.
  const body = slashCommandBody('7');
  const unsigned = await fetch(`${url}/slack/commands`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
  const tampered = await fetch(`${url}/slack/commands`, { method: 'POST', headers: signedHeaders(body), body: body.replace('text=7', 'text=365') });
  check(unsigned.status === 401 && tampered.status === 401, 'unsigned and tampered /sync answered 401');
  const status = async () =>
    (await (await fetch(`${url}/status`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).json()) as {
      recentRuns: {
        status: string;
        window: { start: string; end: string } | null;
        counts: Record<string, { upserted: number }> | null;
      }[];
    };
  check((await status()).recentRuns.length === 0, 'no sync run was recorded for them');

  // A correctly signed /sync 7.
  const started = performance.now();
  const ack = await sendCommand(url, '7');
  const ackMs = performance.now() - started;
  const ackBody = (await ack.json()) as { text: string };
  check(ack.status === 200 && ackBody.text === '⏳ Syncing last 7 days...', `signed /sync 7 acknowledged with "${ackBody.text}"`);
  check(ackMs < 1000, `ack took ${ackMs.toFixed(1)} ms (well under a second)`);

  const [message] = await slack.waitForMessages(1, 30_000);
  const [run] = (await status()).recentRuns;
  check(run?.status === 'succeeded' && run.window && run.counts, 'the run succeeded');
  const expected = expectedIds(whoop, member.user_id, {
    start: new Date(run.window.start),
    end: new Date(run.window.end),
  });
  const countsText = `cycles ${expected.cycles.length} · recoveries ${expected.recoveries.length} · sleeps ${expected.sleeps.length} · workouts ${expected.workouts.length}`;
  check(message!.text.startsWith('✅') && message!.text.includes(countsText), `chat.postMessage got: ${message!.text.replace('\n', ' / ')}`);

  if (prometheus) {
    const runs = await until(
      () => promQuery(prometheus.port, 'sum(whoop_sync_runs_total{trigger="slack",outcome="succeeded"})').then((v) => (v >= 1 ? v : undefined)),
      'Prometheus to see the sync counter increase',
    );
    check(runs >= 1, `Prometheus sees whoop_sync_runs_total{trigger="slack",outcome="succeeded"} = ${runs}`);
  }

  // The seed's verification query.
  const stopped = await server.stop('SIGTERM');
  check(stopped.code === 0, 'service stopped gracefully on SIGTERM');
  const db = await openDatabase(database);
  try {
    const rows = await db.prisma.$queryRaw<{ synced_at: Date }[]>`SELECT synced_at FROM whoop_cycles ORDER BY synced_at DESC LIMIT 3`;
    check(rows.length === 3 && Date.now() - rows[0]!.synced_at.getTime() < 120_000, `SELECT synced_at FROM whoop_cycles … shows ${rows[0]!.synced_at.toISOString()}`);
  } finally {
    await db.close();
  }
}

async function promQuery(port: number, query: string): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(query)}`);
  const body = (await response.json()) as { data?: { result?: { value: [number, string] }[] } };
  const value = body.data?.result?.[0]?.value[1];
  return value === undefined ? NaN : Number(value);
}

let failed = false;
try {
  await main();
  console.log('live check: PASS');
} catch (error) {
  failed = true;
  console.error((error as Error).message);
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
}
process.exit(failed ? 1 : 0);
