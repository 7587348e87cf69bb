// The scheduled morning digest and weekly report. Each slot posts once across replicas: the replica that claims
// it in schedule_slots (as the sync schedules do) refreshes the data if it is older than an hour, through the same
// worker as every sync, then posts; what became of the slot is kept in digest_posts. A failed post is logged,
// counted and recorded, never retried: a retry after a post that Slack did receive would be a duplicate.
// The channel shows the members who share their values (docs/privacy.md); each linked member whose digest is on
// also gets their own by direct message, with or without a digest channel.
import { Cron } from 'croner';
import type { FastifyBaseLogger } from 'fastify';
import { recoveryHrvChart } from '../charts/recovery-hrv.js';
import type { Config } from '../config/config.js';
import type { Database } from '../db/database.js';
import type { Members } from '../team/members.js';
import type { Metrics } from '../metrics/metrics.js';
import { slotAt } from '../schedule/scheduler.js';
import type { SlackPoster } from '../slack/poster.js';
import type { ScheduleSlots } from '../schedule/slots.js';
import type { History } from '../sync/history.js';
import type { Sync } from '../sync/plugin.js';
import type { SyncRuns } from '../sync/runs.js';
import { InFlight } from '../util/in-flight.js';
import { dailyRows, earliestDays, members, workoutsBySport, type DailyRow, type Member, type SportTotal } from '../reports/daily.js';
import { addDays, localDay } from '../reports/days.js';
import { dailyDigestMessage, weeklyReportMessage, type Freshness } from './messages.js';
import { BASELINE_DAYS, FLAG_RUN } from '../reports/insights.js';

export type DigestKind = 'daily' | 'weekly';
export type DigestOutcome = 'posted' | 'posted_stale' | 'failed' | 'claimed_elsewhere' | 'no_recipients';

/** Data older than this is refreshed before a digest. */
const FRESH_MS = 60 * 60_000;
/** Days a refresh before a digest syncs. */
const REFRESH_DAYS = 3;
/**
 * Days it syncs when a member's stored days do not reach back over the baselines: the flags look back FLAG_RUN
 * days, each against the BASELINE_DAYS before it, and a day is named after the morning it ends.
 */
const BASELINE_REFRESH_DAYS = BASELINE_DAYS + FLAG_RUN + 1;

export interface DigestsOptions {
  digest: Config['digest'];
  timezone: string;
  db: Database;
  slots: ScheduleSlots;
  runs: SyncRuns;
  sync: Sync;
  /** Whose whole history is stored: a short one is all there is, and syncing the baseline window adds nothing. */
  history: History;
  poster: SlackPoster;
  /** Whether direct messages can be sent (SLACK_BOT_TOKEN is set): digests then run without a channel too. */
  directMessages: boolean;
  /** Who shares in the channel, and who gets direct messages. */
  settings: Members;
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

  /** The enabled digests: each its cron (not `off`), and somewhere to go: the digest channel or direct messages. */
  get enabled(): { kind: DigestKind; cron: string }[] {
    const { channel, daily, weekly } = this.options.digest;
    if (!channel && !this.options.directMessages) return [];
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
    if (!this.options.digest.channel) {
      log.info(this.options.directMessages
        ? 'digests go by direct message only (SLACK_DIGEST_CHANNEL is unset)'
        : 'digests are off (neither SLACK_DIGEST_CHANNEL nor SLACK_BOT_TOKEN is set)');
    }
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

  /**
   * Prepares and posts one slot of a digest, unless another replica claimed it. Without a digest channel and
   * with no one to send it to by direct message, nothing is claimed, synced or recorded.
   */
  async runSlot(kind: DigestKind, slot: Date): Promise<DigestOutcome> {
    const { db, slots, metrics, log } = this.options;
    const channel = this.options.digest.channel;
    const cron = this.enabled.find((digest) => digest.kind === kind)?.cron;
    if (!cron) throw new Error(`the ${kind} digest is not enabled`);
    if (!channel && (await this.directRecipients()).length === 0) {
      metrics.digests.inc({ kind, outcome: 'no_recipients' });
      log.debug({ kind, slot: slot.toISOString() }, 'no digest channel and no member takes digests by direct message');
      return 'no_recipients';
    }
    const schedule = `digest ${kind} (${cron})`;
    if (!(await slots.claim(schedule, slot))) {
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

  /**
   * Syncs the last few days when the last successful sync is older than FRESH_MS, and the baseline window first
   * when some member's stored days do not reach back BASELINE_DAYS and their whole history is not stored yet.
   */
  private async refresh(
    kind: DigestKind,
    schedule: string,
    slot: Date,
  ): Promise<{ freshness: Freshness; runId: number | null }> {
    const { db, slots, runs, sync, history, log } = this.options;
    const before = await runs.lastSuccess();
    const today = localDay(this.now(), this.options.timezone);
    const stored = await earliestDays(db, addDays(today, -(BASELINE_DAYS + FLAG_RUN)));
    const { members: histories } = await history.summary();
    const complete = new Set(histories.filter((member) => member.complete).map((member) => member.userId));
    const covered = stored.every(
      (member) => complete.has(member.userId) || (member.day !== null && member.day <= addDays(today, -BASELINE_DAYS)),
    );
    const fresh = before !== null && this.now().getTime() - before.getTime() <= FRESH_MS;
    if (fresh && covered) return { freshness: { ok: true }, runId: null };
    const days = covered ? REFRESH_DAYS : BASELINE_REFRESH_DAYS;
    log.info({ kind, days }, `refreshing the data before the ${kind} digest`);
    const { run, status, error } = await sync.syncAll({ days, trigger: 'schedule', requestedBy: `digest ${kind}` });
    await slots.ran(schedule, slot, run.id);
    if (status === 'succeeded') return { freshness: { ok: true }, runId: run.id };
    return { freshness: { ok: false, reason: error ?? 'the sync failed', lastSuccess: await runs.lastSuccess() }, runId: run.id };
  }

  /** Linked members whose digest is on (`/whoop digest on|off`). */
  private async directRecipients() {
    if (!this.options.directMessages) return [];
    return (await this.options.settings.all()).filter((member) => member.slackUserId !== null && member.digest);
  }

  private async post(kind: DigestKind, channel: string | undefined, freshness: Freshness): Promise<void> {
    const { db, timezone, settings, log } = this.options;
    const today = localDay(this.now(), timezone);
    const [people, memberSettings] = await Promise.all([members(db), settings.all()]);
    // The flags look back FLAG_RUN days, each against the BASELINE_DAYS before it; the weekly report 28 days.
    const [rows, sports] = kind === 'daily'
      ? [await dailyRows(db, addDays(today, -(BASELINE_DAYS + FLAG_RUN)), today), []]
      : await Promise.all([dailyRows(db, addDays(today, -27), today), workoutsBySport(db, addDays(today, -6), today)]);
    const data = { kind, today, rows, sports, freshness };
    const sharing = new Set(memberSettings.filter((member) => member.shares).map((member) => member.userId));
    const shown = people.filter((person) => sharing.has(person.userId));
    if (channel) await this.send(channel, { ...data, people: shown, privateCount: people.length - shown.length });
    for (const member of memberSettings) {
      const self = people.find((person) => person.userId === member.userId);
      if (!this.options.directMessages || !member.slackUserId || !member.digest || !self) continue;
      try {
        const direct = await this.options.poster.directMessageChannel(member.slackUserId);
        await this.send(direct, { ...data, people: [self], privateCount: 0 });
      } catch (error) {
        log.error({ err: error, kind, userId: member.userId }, `could not send the ${kind} digest by direct message: ${(error as Error).message}`);
      }
    }
  }

  /** One digest message about `people` to one conversation (a channel or a direct message). */
  private async send(
    to: string,
    input: {
      kind: DigestKind;
      today: string;
      people: Member[];
      privateCount: number;
      rows: DailyRow[];
      sports: SportTotal[];
      freshness: Freshness;
    },
  ): Promise<void> {
    const { poster } = this.options;
    const { kind, today, people, rows, sports, freshness, privateCount } = input;
    if (kind === 'daily') {
      const message = dailyDigestMessage({ today, members: people, rows, freshness, privateCount });
      await poster.postMessage(to, message.text, message.blocks);
      return;
    }
    const message = weeklyReportMessage({ today, members: people, rows, sports, freshness, privateCount });
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
    if (files.length === 0) await poster.postMessage(to, message.text, message.blocks);
    else await poster.uploadFiles(to, message.text, files);
  }
}
