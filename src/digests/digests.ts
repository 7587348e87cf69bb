// The scheduled morning digest and weekly report. Each slot posts once across replicas: the replica that claims
// it in schedule_slots (as the sync schedules do) refreshes the data if it is older than an hour, through the same
// dispatcher as every sync, then posts; what became of the slot is kept in digest_posts. A failed post is logged,
// counted and recorded, never retried: a retry after a post that Slack did receive would be a duplicate.
import { Cron } from 'croner';
import type { FastifyBaseLogger } from 'fastify';
import { recoveryHrvChart } from '../charts/recovery-hrv.js';
import type { Config } from '../config/config.js';
import type { Database } from '../db/database.js';
import type { Metrics } from '../metrics/metrics.js';
import { slotAt } from '../schedule/scheduler.js';
import type { SlackPoster } from '../slack/poster.js';
import type { RunDispatcher } from '../sync/dispatcher.js';
import type { SyncRuns } from '../sync/runs.js';
import { InFlight } from '../util/in-flight.js';
import { dailyRows, members, workoutsBySport } from '../reports/daily.js';
import { addDays, localDay } from '../reports/days.js';
import { dailyDigestMessage, weeklyReportMessage, type Freshness } from './messages.js';
import { BASELINE_DAYS, FLAG_RUN } from '../reports/insights.js';

export type DigestKind = 'daily' | 'weekly';
export type DigestOutcome = 'posted' | 'posted_stale' | 'failed' | 'claimed_elsewhere';

/** Data older than this is refreshed before a digest. */
const FRESH_MS = 60 * 60_000;
/** Days a refresh before a digest syncs. */
const REFRESH_DAYS = 3;

export interface DigestsOptions {
  digest: Config['digest'];
  timezone: string;
  db: Database;
  runs: SyncRuns;
  dispatcher: RunDispatcher;
  poster: SlackPoster;
  metrics: Metrics;
  log: FastifyBaseLogger;
  now?: () => Date;
}

export class Digests {
  private readonly jobs: { kind: DigestKind; cron: string; job: Cron }[] = [];
  private readonly inFlight = new InFlight();
  private readonly now: () => Date;

  constructor(private readonly options: DigestsOptions) {
    this.now = options.now ?? (() => new Date());
  }

  /** The enabled digests: both need SLACK_DIGEST_CHANNEL, each its cron (not `off`). */
  get enabled(): { kind: DigestKind; cron: string }[] {
    const { channel, daily, weekly } = this.options.digest;
    if (!channel) return [];
    return [
      ...(daily ? [{ kind: 'daily' as const, cron: daily }] : []),
      ...(weekly ? [{ kind: 'weekly' as const, cron: weekly }] : []),
    ];
  }

  start(): void {
    const { timezone, log } = this.options;
    for (const { kind, cron } of this.enabled) {
      const job = new Cron(
        cron,
        { timezone, protect: true, catch: (error) => log.error({ err: error, kind }, 'scheduled digest failed') },
        async () => {
          await this.inFlight.track(this.runSlot(kind, slotAt({ cron, days: REFRESH_DAYS }, timezone, this.now())));
        },
      );
      this.jobs.push({ kind, cron, job });
      log.info({ kind, cron, timezone, nextRun: job.nextRun()?.toISOString() ?? null }, `scheduled digest: ${kind}`);
    }
    if (!this.options.digest.channel) log.info('digests are off (SLACK_DIGEST_CHANNEL is unset)');
  }

  stop(): void {
    for (const { job } of this.jobs) job.stop();
  }

  /** Resolves true once no digest is being prepared or posted, or false after `timeoutMs`. */
  idle(timeoutMs: number): Promise<boolean> {
    return this.inFlight.idle(timeoutMs);
  }

  /** For /status: each enabled digest, its next run, and what became of its last slot. */
  async status() {
    const last = await this.options.db.prisma.digestPost.findMany({ orderBy: { slot: 'desc' }, take: 10 });
    return this.enabled.map(({ kind, cron }) => {
      const post = last.find((entry) => entry.kind === kind);
      return {
        kind,
        cron,
        timezone: this.options.timezone,
        nextRun: this.jobs.find((job) => job.kind === kind)?.job.nextRun() ?? null,
        last: post ? { slot: post.slot, outcome: post.outcome, error: post.error, finishedAt: post.finishedAt } : null,
      };
    });
  }

  /** Prepares and posts one slot of a digest, unless another replica claimed it. */
  async runSlot(kind: DigestKind, slot: Date): Promise<DigestOutcome> {
    const { db, metrics, log } = this.options;
    const channel = this.options.digest.channel;
    const cron = this.enabled.find((digest) => digest.kind === kind)?.cron;
    if (!channel || !cron) throw new Error(`the ${kind} digest is not enabled`);
    const schedule = `digest ${kind} (${cron})`;
    const claimed = await db.prisma.scheduleSlot.createMany({ data: [{ schedule, slot }], skipDuplicates: true });
    if (claimed.count === 0) {
      metrics.digests.inc({ kind, outcome: 'claimed_elsewhere' });
      log.debug({ kind, slot: slot.toISOString() }, 'digest slot already claimed by another replica');
      return 'claimed_elsewhere';
    }
    let outcome: DigestOutcome = 'failed';
    let error: string | null = null;
    let runId: number | null = null;
    try {
      const refreshed = await this.refresh(kind, schedule, slot);
      runId = refreshed.runId;
      await this.post(kind, channel, refreshed.freshness);
      outcome = refreshed.freshness.ok ? 'posted' : 'posted_stale';
      log.info({ kind, slot: slot.toISOString(), outcome }, `${kind} digest posted`);
    } catch (failure) {
      error = (failure as Error).message;
      log.error({ err: failure, kind, slot: slot.toISOString() }, `could not post the ${kind} digest: ${error}`);
    }
    metrics.digests.inc({ kind, outcome });
    await db.prisma.digestPost.create({ data: { kind, slot, outcome, error, syncRunId: runId } });
    return outcome;
  }

  /** Syncs the last few days when the last successful sync is older than FRESH_MS. */
  private async refresh(
    kind: DigestKind,
    schedule: string,
    slot: Date,
  ): Promise<{ freshness: Freshness; runId: number | null }> {
    const { db, runs, dispatcher, log } = this.options;
    const lastSuccess = async () =>
      (await db.prisma.syncRun.findFirst({ where: { status: 'succeeded' }, orderBy: { finishedAt: 'desc' }, select: { finishedAt: true } }))?.finishedAt ?? null;
    const before = await lastSuccess();
    if (before && this.now().getTime() - before.getTime() <= FRESH_MS) return { freshness: { ok: true }, runId: null };
    const run = await runs.create({ days: REFRESH_DAYS, trigger: 'schedule', requestedBy: `digest ${kind}` });
    await db.prisma.scheduleSlot.update({ where: { schedule_slot: { schedule, slot } }, data: { runId: run.id } });
    log.info({ kind, runId: run.id }, `refreshing the data before the ${kind} digest`);
    await dispatcher.dispatch(run.id);
    const finished = await db.prisma.syncRun.findUnique({
      where: { id: run.id },
      select: { status: true, error: true },
    });
    if (finished?.status === 'succeeded') return { freshness: { ok: true }, runId: run.id };
    const reason = finished?.error ?? `the sync did not finish (${finished?.status ?? 'missing'})`;
    return { freshness: { ok: false, reason, lastSuccess: await lastSuccess() }, runId: run.id };
  }

  private async post(kind: DigestKind, channel: string, freshness: Freshness): Promise<void> {
    const { db, poster, timezone } = this.options;
    const today = localDay(this.now(), timezone);
    const people = await members(db);
    if (kind === 'daily') {
      // The flags look back FLAG_RUN days, each against the BASELINE_DAYS before it.
      const rows = await dailyRows(db, addDays(today, -(BASELINE_DAYS + FLAG_RUN)), today);
      const message = dailyDigestMessage({ today, members: people, rows, freshness });
      await poster.postMessage(channel, message.text, message.blocks);
      return;
    }
    const [rows, sports] = await Promise.all([
      dailyRows(db, addDays(today, -27), today),
      workoutsBySport(db, addDays(today, -6), today),
    ]);
    const message = weeklyReportMessage({ today, members: people, rows, sports, freshness });
    const files = [];
    for (const member of people) {
      const memberRows = rows.filter((row) => row.userId === member.userId);
      const chartRows = memberRows.map((row) => ({ day: row.day, recoveryScore: row.recoveryScore, hrvMs: row.hrvMs }));
      const spec = recoveryHrvChart(chartRows, {
        endDay: today,
        title: `${member.name}: recovery and HRV, last 28 days`,
      });
      // Loaded on first use: Vega and resvg are a large share of the service's memory, and only charts need them.
      const { chartPng } = await import('../charts/render.js');
      files.push({ data: await chartPng(spec), filename: `recovery-hrv-${today}-${member.userId}.png`, title: `${member.name}: recovery and HRV, 28 days to ${today}` });
    }
    if (files.length === 0) await poster.postMessage(channel, message.text, message.blocks);
    else await poster.uploadFiles(channel, message.text, files);
  }
}
