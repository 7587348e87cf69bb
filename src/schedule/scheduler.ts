// Scheduled syncs with croner: each slot records a run for the worker, as /sync does (its result is
// reported to SLACK_REPORT_CHANNEL). Two guarantees:
// - overrun protection: a slot does not start while this schedule's previous run is still queued or
//   running (in any replica); the skip is logged and counted;
// - one run per slot: with several replicas on one database, the replica that claims the slot in
//   schedule_slots runs it, the others stand aside.
import { Cron } from 'croner';
import type { FastifyBaseLogger } from 'fastify';
import type { Schedule } from '../config/config.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Sync } from '../sync/plugin.js';
import type { SyncRuns } from '../sync/runs.js';
import { plural } from '../util/plural.js';
import type { ScheduleSlots } from './slots.js';

export interface ScheduledJob {
  /** Stable name, used in sync_runs.requested_by, schedule_slots and the metrics label. */
  name: string;
  schedule: Schedule;
  nextRun(): Date | null;
}

export type SlotResult = 'ran' | 'claimed_elsewhere' | 'skipped_overrun';

export interface SchedulerOptions {
  schedules: Schedule[];
  timezone: string;
  slots: ScheduleSlots;
  runs: SyncRuns;
  sync: Sync;
  metrics: Metrics;
  log: FastifyBaseLogger;
}

export function scheduleName(schedule: Schedule): string {
  return `${schedule.cron} (${plural(schedule.days, 'day')})`;
}

/** The instant a schedule last fired at or before `at`, in its time zone. */
export function slotAt(schedule: Schedule, timezone: string, at: Date): Date {
  const cron = new Cron(schedule.cron, { timezone, paused: true });
  // previousRuns looks strictly before the reference: a second later includes a slot at exactly `at`.
  const [slot] = cron.previousRuns(1, new Date(at.getTime() + 1000));
  cron.stop();
  return slot ?? at;
}

export class Scheduler {
  private readonly jobs: { job: Cron; name: string; schedule: Schedule }[] = [];

  constructor(private readonly options: SchedulerOptions) {}

  start(): void {
    const { schedules, timezone, log } = this.options;
    for (const schedule of schedules) {
      const name = scheduleName(schedule);
      const job = new Cron(
        schedule.cron,
        {
          timezone,
          name,
          // This replica's previous slot is still running: skip (other replicas are covered by runSlot).
          protect: () => this.skipped(name, slotAt(schedule, timezone, new Date())),
          catch: (error) => log.error({ err: error, schedule: name }, 'scheduled sync failed'),
        },
        async () => {
          await this.runSlot(schedule, slotAt(schedule, timezone, new Date()));
        },
      );
      this.jobs.push({ job, name, schedule });
      log.info({ schedule: name, timezone, nextRun: job.nextRun()?.toISOString() ?? null }, `scheduled sync: ${name}`);
    }
    if (schedules.length === 0) log.info('scheduled syncs are off (SYNC_SCHEDULES=off)');
  }

  get scheduled(): ScheduledJob[] {
    return this.jobs.map(({ job, name, schedule }) => ({ name, schedule, nextRun: () => job.nextRun() }));
  }

  private skipped(name: string, slot: Date): void {
    this.options.metrics.scheduleSkips.inc({ schedule: name });
    this.options.log.warn({ schedule: name, slot: slot.toISOString() }, 'scheduled sync skipped: the previous run of this schedule is still busy');
  }

  stop(): void {
    for (const { job } of this.jobs) job.stop();
  }

  /** Records the run of one slot of a schedule, unless its previous run is busy or another replica claimed it. */
  async runSlot(schedule: Schedule, slot: Date): Promise<SlotResult> {
    const { slots, runs, sync, log } = this.options;
    const name = scheduleName(schedule);
    if (!(await slots.claim(name, slot))) {
      log.debug({ schedule: name, slot: slot.toISOString() }, 'scheduled slot already claimed by another replica');
      return 'claimed_elsewhere';
    }
    if (await runs.busy(name)) {
      this.skipped(name, slot);
      return 'skipped_overrun';
    }
    const run = await sync.record({ days: schedule.days, trigger: 'schedule', requestedBy: name });
    await slots.ran(name, slot, run.id);
    log.info({ schedule: name, slot: slot.toISOString(), runId: run.id }, 'scheduled sync recorded');
    return 'ran';
  }
}
