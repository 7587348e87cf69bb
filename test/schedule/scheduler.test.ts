import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Schedule } from '../../src/config/config.js';
import { scheduleName, slotAt } from '../../src/schedule/scheduler.js';
import { clearRecords } from '../support/records.js';
import { startEnvironment, type Environment } from '../support/environment.js';
import { settled } from '../support/settled.js';

describe('schedule times', () => {
  const [morning, afternoon, weekly] = loadConfig({}).sync.schedules as [any, any, any];
  /**
   * The first slot after `from`, as the scheduler sees it through slotAt: `next` is a slot, and the last
   * slot a second before it is not after `from`.
   */
  const nextSlot = (schedule: Schedule, timezone: string, from: Date, next: string) => {
    expect(slotAt(schedule, timezone, new Date(next)).toISOString()).toBe(next);
    expect(slotAt(schedule, timezone, new Date(Date.parse(next) - 1000)).getTime()).toBeLessThanOrEqual(from.getTime());
  };

  it('computes the default schedules in a non-UTC time zone', () => {
    const from = new Date('2026-11-25T12:00:00Z'); // Wednesday, 07:00 in New York
    nextSlot(morning, 'America/New_York', from, '2026-11-25T13:00:00.000Z');
    nextSlot(afternoon, 'America/New_York', from, '2026-11-25T18:00:00.000Z');
    nextSlot(weekly, 'America/New_York', from, '2026-11-29T14:00:00.000Z');
    expect(weekly.days).toBe(30);
  });

  it('follows daylight saving time and custom schedules', () => {
    // Berlin moves to summer time on 29 March 2026: 08:00 local is 07:00 UTC before, 06:00 UTC after.
    nextSlot(morning, 'Europe/Berlin', new Date('2026-03-28T12:00:00Z'), '2026-03-29T06:00:00.000Z');
    const [custom] = loadConfig({ SYNC_SCHEDULES: '30 6 * * 1-5 = 2' }).sync.schedules;
    nextSlot(custom!, 'Asia/Kolkata', new Date('2026-11-27T02:00:00Z'), '2026-11-30T01:00:00.000Z');
  });

  it('names the slot a late timer fired for', () => {
    expect(slotAt(morning, 'UTC', new Date('2026-11-25T08:00:00.450Z')).toISOString()).toBe('2026-11-25T08:00:00.000Z');
    expect(slotAt(morning, 'UTC', new Date('2026-11-25T08:00:00.000Z')).toISOString()).toBe('2026-11-25T08:00:00.000Z');
  });
});

describe('scheduled syncs', () => {
  let env: Environment;
  const schedule = { cron: '0 0 1 1 *', days: 2 };
  const slot = (n: number) => new Date(Date.UTC(2026, 0, 1 + n));
  const prisma = () => env.app.app.db.prisma;

  beforeAll(async () => {
    env = await startEnvironment({ days: 5, env: { SLACK_REPORT_CHANNEL: 'C0REPORTS1', SYNC_TIMEZONE: 'Europe/Berlin' } });
    expect((await env.connect()).status).toBe(200);
  });
  afterEach(async () => {
    await settled(env.app.app.db);
    await clearRecords(env.app.app.db);
    await prisma().scheduleSlot.deleteMany();
    env.slack.reset();
  });
  afterAll(async () => env?.close());

  it('runs a real sync for a slot and reports a short line to SLACK_REPORT_CHANNEL', async () => {
    expect(await env.app.app.scheduler.runSlot(schedule, slot(0))).toBe('ran');
    await settled(env.app.app.db);
    const run = await prisma().syncRun.findFirstOrThrow();
    expect(run).toMatchObject({ trigger: 'schedule', requestedBy: scheduleName(schedule), days: 2, status: 'succeeded' });
    const [message] = await env.slack.waitForMessages(1);
    expect(message!.channel).toBe('C0REPORTS1');
    expect(message!.text).toMatch(/^✅ Scheduled sync done in .* — cycles \d+ · recoveries \d+ · sleeps \d+ · workouts \d+$/);
    expect(message!.text).not.toContain('\n');
  });

  it('reports a failed scheduled sync', async () => {
    env.whoop.failNext(5, { status: 503, pathPrefix: '/v2/cycle' });
    await env.app.app.scheduler.runSlot(schedule, slot(1));
    const [message] = await env.slack.waitForMessages(1, 30_000);
    expect(message!.text).toMatch(/^❌ Scheduled sync failed: WHOOP request GET \/developer\/v2\/cycle failed: HTTP 503/);
  }, 40_000);

  it('skips a slot while the previous run of the schedule is still busy, and counts it', async () => {
    const release = env.whoop.hold();
    const first = env.app.app.scheduler.runSlot(schedule, slot(2));
    await expect.poll(() => prisma().syncRun.count({ where: { status: 'running' } })).toBe(1);
    expect(await env.app.app.scheduler.runSlot(schedule, slot(3))).toBe('skipped_overrun');
    release();
    expect(await first).toBe('ran');
    expect(await prisma().syncRun.count()).toBe(1);
    const skips = (await env.app.app.metrics.registry.getSingleMetric('whoop_sync_schedule_skipped_total')!.get()).values;
    expect(skips).toEqual([expect.objectContaining({ labels: { schedule: scheduleName(schedule) }, value: 1 })]);
  });

  it('runs a slot once even when it fires twice', async () => {
    const results = await Promise.all([
      env.app.app.scheduler.runSlot(schedule, slot(4)),
      env.app.app.scheduler.runSlot(schedule, slot(4)),
    ]);
    expect(results.sort()).toEqual(['claimed_elsewhere', 'ran']);
    expect(await prisma().syncRun.count()).toBe(1);
  });

  it('runs a slot once across two app instances on the same database', async () => {
    const other = await env.startAnotherApp({ SLACK_REPORT_CHANNEL: 'C0REPORTS1' });
    const results = await Promise.all([
      env.app.app.scheduler.runSlot(schedule, slot(5)),
      other.app.scheduler.runSlot(schedule, slot(5)),
    ]);
    expect(results.sort()).toEqual(['claimed_elsewhere', 'ran']);
    await settled(other.app.db);
    expect(await prisma().syncRun.count()).toBe(1);
    expect(await env.slack.waitForMessages(1)).toHaveLength(1);
  });
});

describe('the croner timers', () => {
  let env: Environment;
  beforeAll(async () => {
    // Every second: proves the timers are wired to the sync and that overlapping slots are skipped.
    env = await startEnvironment({ days: 2, env: { SYNC_SCHEDULES: '* * * * * * = 1' } });
    expect((await env.connect()).status).toBe(200);
  });
  afterAll(async () => env?.close());

  it('starts scheduled syncs by themselves and lists them with their next run', async () => {
    await expect.poll(() => env.app.app.db.prisma.syncRun.count({ where: { trigger: 'schedule', status: 'succeeded' } }), { timeout: 10_000 }).toBeGreaterThan(0);
    const [job] = env.app.app.scheduler.scheduled;
    expect(job!.name).toBe('* * * * * * (1 day)');
    expect(job!.nextRun()!.getTime()).toBeGreaterThan(Date.now() - 1000);
  });

  // A stuck run would make every later slot of its schedule skip ("previous run still busy") for as long
  // as the process lives. Each fault is a real failing statement, injected once by a trigger that notes
  // which run it hit.
  const prisma = () => env.app.app.db.prisma;
  async function failOnce(table: string, when: string, runId: string): Promise<() => Promise<number | undefined>> {
    // Sequences, because they survive the rollback of the failing statement.
    await prisma().$executeRawUnsafe(`CREATE SEQUENCE fault_${table}_hits`);
    await prisma().$executeRawUnsafe(`CREATE SEQUENCE fault_${table}_run`);
    await prisma().$executeRawUnsafe(`
      CREATE FUNCTION fail_${table}_once() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF (${when}) AND nextval('fault_${table}_hits') = 1 THEN
          PERFORM setval('fault_${table}_run', ${runId});
          RAISE EXCEPTION 'injected fault: writing ${table} failed';
        END IF;
        RETURN NEW;
      END $$`);
    await prisma().$executeRawUnsafe(`CREATE TRIGGER fail_once BEFORE UPDATE ON ${table} FOR EACH ROW EXECUTE FUNCTION fail_${table}_once()`);
    return async () => {
      const [row] = await prisma().$queryRawUnsafe<Array<{ last_value: bigint; is_called: boolean }>>(`SELECT last_value, is_called FROM fault_${table}_run`);
      return row?.is_called ? Number(row.last_value) : undefined;
    };
  }

  async function expectScheduleMovesOn(stuck: () => Promise<number | undefined>, status = 'succeeded'): Promise<void> {
    await expect.poll(stuck, { timeout: 10_000 }).toBeTypeOf('number');
    const runId = (await stuck())!;
    // The worker finishes the run, whatever failed around it; then the later slots run again.
    const run = () => prisma().syncRun.findUniqueOrThrow({ where: { id: runId } });
    await expect.poll(async () => (await run()).status, { timeout: 20_000 }).toBe(status);
    await expect
      .poll(() => prisma().syncRun.count({ where: { trigger: 'schedule', id: { gt: runId }, status: 'succeeded' } }), { timeout: 10_000 })
      .toBeGreaterThan(0);
  }

  it('runs a scheduled run whose slot could not note it, so its later slots run', async () => {
    // runSlot has recorded the run, then its next write fails: the run is recorded all the same.
    const stuck = await failOnce('schedule_slots', 'NEW.run_id IS NOT NULL', 'NEW.run_id');
    await expectScheduleMovesOn(stuck);
  }, 45_000);

  it('records a run whose success could not be recorded as failed, so its later slots run', async () => {
    const stuck = await failOnce('sync_runs', "OLD.status = 'running' AND NEW.status = 'succeeded' AND OLD.trigger = 'schedule'", 'OLD.id');
    await expectScheduleMovesOn(stuck, 'failed');
    expect(await prisma().syncRun.count({ where: { status: 'running', finishedAt: null, requestedAt: { lt: new Date(Date.now() - 30_000) } } })).toBe(0);
  }, 45_000);
});
