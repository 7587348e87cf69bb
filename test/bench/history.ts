// Benchmark 8, the whole-history backfill on connect: ten members with three years each connect to the
// service process (the compiled entry point, as a person starts it, with the backfill on as by default)
// against a fake WHOOP that answers after a fixed latency and enforces WHOOP's 100 requests a minute.
//
//   wall time   first connect → every history complete (`/status` history.collectionsIncomplete 0 with every
//               member counted), against the bound the budget implies: the requests sent ÷ the per-minute limit
//   requests    what the fake WHOOP served, by path, against the minimum: every page of 25 once per member and
//               collection (ceil(records / 25), at least one), plus profile and body per connect; and 429s
//   /sync 3     typed halfway through the backfill, command → ✅ at the fake Slack, against the same /sync 3
//               after the backfill completed, three times a minute apart (nothing running, the budget's window
//               empty), median
import { performance } from 'node:perf_hooks';
import { openDatabase } from '../../src/db/database.js';
import { HISTORY_FLOOR, minuteReserve } from '../../src/sync/history.js';
import { startFakeSlack } from '../fakes/slack-server.js';
import { startFakeWhoop, type Member } from '../fakes/whoop-server.js';
import { compileService } from '../support/compiled.js';
import { createTestDatabase } from '../support/database.js';
import { LISTS, TABLES } from '../support/records.js';
import { connect, fakesEnv, sendCommand } from '../support/environment.js';
import { startServerProcess } from '../support/server-process.js';
import { checkInterrupted, onCleanup, round, scoped, sleep } from './util.js';

export interface HistoryOptions {
  members: number;
  days: number;
  workoutsPerDay: number;
  latencyMs: number;
  perMinute: number;
  /** Allowed wall time / budget bound. */
  targetRatio: number;
  /** /sync N typed during the backfill and again with nothing running. */
  syncDays: number;
  /** Share of the minimum history requests answered before the /sync is typed. */
  typedAt: number;
}

export interface HistoryResult {
  database: string;
  members: number;
  days: number;
  perMinute: number;
  /** The per-minute limit less what the backfill leaves to other work (src/sync/history.ts). */
  backfillPerMinute: number;
  wallMs: number;
  /** Requests the fake WHOOP served from the first connect to every history complete ÷ backfillPerMinute. */
  boundMs: number;
  wallRatio: number;
  /** API requests served until every history was complete (the /sync typed meanwhile included). */
  requests: number;
  /** Of those: the backfill's list pages, profile + body, and the /sync's. */
  historyPages: number;
  profileRequests: number;
  syncRequests: number;
  minHistoryPages: number;
  minProfileRequests: number;
  /** (history pages + profile/body) ÷ their minimum. */
  requestRatio: number;
  byPath: Record<string, number>;
  rateLimited: number;
  peakPerMinute: number;
  records: number;
  /** /sync N typed during the backfill: command → ✅, and the same with nothing running (median of 3). */
  syncDuringMs: number;
  syncDuringTypedAfterRequests: number;
  syncIdleMs: number;
  syncIdleRuns: number[];
  syncRatio: number;
  targetMet: boolean;
  problems: string[];
}

const PROFILE = new Set(['/developer/v2/user/profile/basic', '/developer/v2/user/measurement/body']);
const PAGE = 25;

interface HistoryStatus {
  history: { collectionsIncomplete: number; members: Array<{ complete: boolean; percent: number }> };
}

async function waitFor(
  what: string,
  timeoutMs: number,
  check: () => boolean | Promise<boolean>,
  everyMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    checkInterrupted();
    if (Date.now() > deadline) throw new Error(`${what}: not within ${Math.round(timeoutMs / 1000)} s`);
    await sleep(everyMs);
  }
}

export async function historyBenchmark(
  options: HistoryOptions,
  progress: (line: string) => void,
): Promise<HistoryResult> {
  return scoped(async () => {
    const problems: string[] = [];
    progress('history: compiling the service (tsc -b tsconfig.build.json)');
    compileService();
    const whoop = await startFakeWhoop({ latencyMs: options.latencyMs, rateLimit: { perMinute: options.perMinute } });
    onCleanup('fake WHOOP', () => whoop.close());
    const slack = await startFakeSlack();
    onCleanup('fake Slack', () => slack.close());
    const members: Member[] = [];
    for (let i = 0; i < options.members; i++) {
      const member = whoop.addMember({ first_name: `Member${i + 1}`, last_name: 'Tester', email: `member${i + 1}@example.com` });
      whoop.generate(member.user_id, { days: options.days, workoutsPerDay: options.workoutsPerDay, seed: 100 + i });
      members.push(member);
    }
    let minHistoryPages = 0;
    let records = 0;
    for (const member of members) {
      for (const name of Object.values(LISTS)) {
        const held = whoop.data[name].filter((record) => record.user_id === member.user_id).length;
        records += held;
        minHistoryPages += Math.max(1, Math.ceil(held / PAGE));
      }
    }
    const minProfileRequests = 2 * options.members;
    const minimum = minHistoryPages + minProfileRequests;
    const db = await createTestDatabase();
    onCleanup('test database', () => db.drop());
    // As a person runs it: the backfill on connect is on unless WHOOP_HISTORY_SINCE=off, the budget is
    // WHOOP's default 100/min; schedules off so that nothing but the backfill and the typed /sync runs.
    const env = { ...db.env, ...fakesEnv(whoop, slack), SYNC_SCHEDULES: 'off' };
    const service = startServerProcess(env);
    onCleanup('service process', async () => {
      await service.stop('SIGKILL');
    });
    const url = await service.listening();
    const status = async () => (await (await fetch(`${url}/status`)).json()) as HistoryStatus;
    const api = () => whoop.stats.requests.filter((r) => r.path.startsWith('/developer/'));
    const floor = HISTORY_FLOOR.toISOString();
    const isHistory = (r: { path: string; query: Record<string, string> }) =>
      r.path in LISTS && r.query.start === floor;
    whoop.resetStats();
    slack.reset();

    progress(
      `history: ${options.members} members × ${options.days} days (${records} records, minimum ${minimum} requests: ` +
        `about ${round(minimum / options.perMinute, 1)} min at ${options.perMinute}/min), connecting them`,
    );
    const started = performance.now();
    for (const [i, member] of members.entries()) {
      const done = await connect(url, whoop, member, i === 0 ? 'U0ALICE001' : `U0M${member.user_id}`);
      await done.text();
      if (done.status !== 200) throw new Error(`connecting member ${i + 1} answered ${done.status}`);
    }
    progress(`history: ${options.members} connected in ${Math.round(performance.now() - started)} ms; backfill under way`);

    // The /sync typed during the backfill, once the given share of the minimum pages was answered.
    const result = (since: number) => slack.messages.find((m) => m.at.getTime() >= since && m.text.startsWith('✅') && m.text.includes(`last ${options.syncDays} days`));
    const spans: Array<[number, number]> = [];
    const timeSync = async (): Promise<number> => {
      const typedAt = Date.now();
      const ack = await sendCommand(url, String(options.syncDays));
      if (ack.status !== 200) throw new Error(`/sync ${options.syncDays} answered ${ack.status}`);
      await waitFor(`the /sync ${options.syncDays} result`, 10 * 60_000, () => result(typedAt) !== undefined, 20);
      const message = result(typedAt)!;
      spans.push([typedAt, message.at.getTime()]);
      return message.at.getTime() - typedAt;
    };
    const typedAfter = Math.round(minHistoryPages * options.typedAt);
    const timeout = (minimum / options.perMinute) * 60_000 * 3 + 5 * 60_000;
    await waitFor('the backfill to reach its middle', timeout, () => api().filter((r) => isHistory(r) && r.status === 200).length >= typedAfter, 200);
    progress(`history: /sync ${options.syncDays} typed after ${typedAfter} history pages`);
    const syncTypedAfterRequests = api().length;
    const syncDuringMs = await timeSync();
    progress(`history: /sync ${options.syncDays} during the backfill ✅ after ${syncDuringMs} ms`);

    let last = '';
    await waitFor(
      'every history to be complete',
      timeout,
      async () => {
        const s = await status();
        const line = `${s.history.members.filter((m) => m.complete).length}/${options.members} complete, ${api().length} requests`;
        if (line.split(',')[0] !== last.split(',')[0]) progress(`history: ${line}`);
        last = line;
        const all = s.history.members;
        return all.length === options.members && all.every((m) => m.complete) && s.history.collectionsIncomplete === 0;
      },
      250,
    );
    const wallMs = performance.now() - started;
    const served = api();
    progress(`history: complete after ${Math.round(wallMs / 1000)} s`);

    // With nothing running: each after a minute's pause, so that no earlier request (the backfill's, the
    // previous /sync's: ten members' /sync 3 is 60 requests) is still in the budget's window.
    progress(`history: /sync ${options.syncDays} three times with nothing running, each after a minute's pause`);
    const syncIdleRuns: number[] = [];
    for (let i = 0; i < 3; i++) {
      await sleep(61_000);
      syncIdleRuns.push(await timeSync());
    }
    const syncIdleMs = [...syncIdleRuns].sort((a, b) => a - b)[1]!;

    const byPath: Record<string, number> = {};
    for (const r of served) byPath[r.path] = (byPath[r.path] ?? 0) + 1;
    const historyPages = served.filter(isHistory).length;
    // Profile and body requests while the typed /sync ran are that sync's (it reads every member's).
    const duringSync = (r: { at: number }) => spans.some(([from, to]) => r.at >= from && r.at <= to);
    const profileRequests = served.filter((r) => PROFILE.has(r.path) && !duringSync(r)).length;
    const syncRequests = served.length - historyPages - profileRequests;
    const backfillPerMinute = options.perMinute - minuteReserve(options.perMinute);
    const boundMs = (served.length / backfillPerMinute) * 60_000;
    const rateLimited = whoop.stats.rateLimited + served.filter((r) => r.status === 429).length;
    if (rateLimited > 0) problems.push(`history: WHOOP answered 429 ${rateLimited} time(s)`);
    const notOk = served.filter((r) => r.status !== 200 && r.status !== 429).length;
    if (notOk > 0) problems.push(`history: ${notOk} WHOOP requests were not answered 200`);
    await service.stop('SIGTERM');
    const database = await openDatabase(db);
    try {
      for (const name of Object.values(LISTS)) {
        const [row] = await database.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${TABLES[name]}`);
        if (row!.n !== whoop.data[name].length) problems.push(`history: ${TABLES[name]} holds ${row!.n} of ${whoop.data[name].length} records`);
      }
    } finally {
      await database.close();
    }
    return {
      database: process.env.TEST_DATABASE_URL ? 'postgres' : 'embedded',
      members: options.members,
      days: options.days,
      perMinute: options.perMinute,
      backfillPerMinute,
      wallMs: Math.round(wallMs),
      boundMs: Math.round(boundMs),
      wallRatio: round(wallMs / boundMs, 3),
      requests: served.length,
      historyPages,
      profileRequests,
      syncRequests,
      minHistoryPages,
      minProfileRequests,
      requestRatio: round((historyPages + profileRequests) / minimum, 3),
      byPath,
      rateLimited,
      peakPerMinute: whoop.stats.peakPerMinute,
      records,
      syncDuringMs,
      syncDuringTypedAfterRequests: syncTypedAfterRequests,
      syncIdleMs,
      syncIdleRuns,
      syncRatio: round(syncDuringMs / syncIdleMs, 2),
      targetMet: wallMs / boundMs <= options.targetRatio,
      problems,
    };
  });
}
