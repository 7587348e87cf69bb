// Records with values WHOOP's documentation rules out, served by the fake WHOOP and synced through the real
// service: a timezone_offset SQL cannot use, a recovery of 250 %, a negative HRV, strain over 21, percentages
// over 100. The sync stores them raw, the typed columns and so the whoop_daily view and every report ignore
// them, and the weekly report still posts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { utcOffset } from '../../src/sync/resources.js';
import { startEnvironment, type Environment } from '../support/environment.js';

const CHANNEL = 'C0DIGEST01';

describe('odd values from WHOOP', () => {
  let env: Environment;
  const db = () => env.app.app.db;
  let workoutId: string;
  let cycleId: number;
  let sleepId: string;

  beforeAll(async () => {
    env = await startEnvironment({ days: 20, env: { SLACK_DIGEST_CHANNEL: CHANNEL, DIGEST_WEEKLY: '0 9 * * 0' } });
    const { data } = env.whoop;
    const recent = (start: string) => Date.now() - Date.parse(start) < 4 * 86_400_000;
    const workout = data.workouts.find((w) => w.score && recent(w.start))!;
    workout.timezone_offset = '+99:99';
    workout.score!.strain = 23.5;
    workout.score!.percent_recorded = 140;
    workoutId = workout.id;
    const scoredCycle = data.cycles.filter((c) => c.score).at(-2)!;
    const recovery = data.recoveries.find((r) => r.score && r.cycle_id === scoredCycle.id)!;
    recovery.score = { ...recovery.score!, recovery_score: 250, hrv_rmssd_milli: -5, spo2_percentage: 101 };
    cycleId = recovery.cycle_id;
    const cycle = data.cycles.find((c) => c.id === cycleId)!;
    cycle.score = { ...cycle.score!, strain: 22 };
    const sleep = data.sleeps.find((s) => s.id === recovery.sleep_id)!;
    sleep.timezone_offset = 'garbage';
    sleep.score = { ...sleep.score!, sleep_performance_percentage: 180 };
    sleepId = sleep.id;

    expect((await env.connect()).status).toBe(200);
    expect((await env.command('20')).status).toBe(200);
    const [result] = await env.slack.waitForMessages(1, 60_000);
    expect(result!.text).toMatch(/^✅/);
    env.slack.reset();
  }, 120_000);
  afterAll(async () => env?.close());

  it('stores the raw records as WHOOP sent them, and NULL in the typed columns', async () => {
    type Row = { offset: string | null; strain: number | null; recorded: number | null; raw: string };
    const [workout] = await db().query<Row>(
      `SELECT "timezone_offset" AS "offset", "strain", "percent_recorded" AS "recorded", "raw"->>'timezone_offset' AS "raw"
       FROM "whoop_workouts" WHERE "id" = $1::uuid`,
      [workoutId],
    );
    expect(workout).toEqual({ offset: null, strain: null, recorded: null, raw: '+99:99' });
    const [recovery] = await db().query<Record<string, unknown>>(
      `SELECT "recovery_score", "hrv_rmssd_milli", "spo2_percentage", ("raw"->'score'->>'recovery_score')::float8 AS "raw"
       FROM "whoop_recoveries" WHERE "cycle_id" = $1`,
      [cycleId],
    );
    expect(recovery).toEqual({ recovery_score: null, hrv_rmssd_milli: null, spo2_percentage: null, raw: 250 });
    const [sleep] = await db().query<Record<string, unknown>>(
      `SELECT "timezone_offset", "sleep_performance_percentage", "raw"->>'timezone_offset' AS "raw" FROM "whoop_sleeps" WHERE "id" = $1::uuid`,
      [sleepId],
    );
    expect(sleep).toEqual({ timezone_offset: null, sleep_performance_percentage: null, raw: 'garbage' });
  });

  it('shows none of them in whoop_daily', async () => {
    const [day] = await db().query<Record<string, unknown>>(
      `SELECT "recovery_score", "hrv_rmssd_milli", "spo2_percentage", "day_strain", "sleep_performance_percentage"
       FROM "whoop_daily" WHERE "cycle_id" = $1`,
      [cycleId],
    );
    expect(day).toEqual({
      recovery_score: null,
      hrv_rmssd_milli: null,
      spo2_percentage: null,
      day_strain: null,
      sleep_performance_percentage: null,
    });
  });

  it('still posts the weekly report, without the unusable values', async () => {
    expect(await env.app.app.digests.runSlot('weekly', new Date('2026-01-04T09:00:00Z'))).toBe('posted');
    const [upload] = await env.slack.waitForUploads(1);
    const text = upload!.initialComment!;
    expect(text).toMatch(/recovery \d+ %/);
    expect(text).not.toMatch(/250|−5 ms|-5 ms/);
  });

  it('refuses unusable values written to the typed columns by anything else', async () => {
    await expect(db().query(`UPDATE "whoop_workouts" SET "timezone_offset" = '+99:99' WHERE "id" = $1::uuid`, [workoutId])).rejects.toThrow(
      /whoop_workouts_timezone_offset_usable/,
    );
    await expect(db().query(`UPDATE "whoop_recoveries" SET "recovery_score" = 250 WHERE "cycle_id" = $1`, [cycleId])).rejects.toThrow(
      /whoop_recoveries_range/,
    );
  });

  it('reads WHOOP offsets as ±hh:mm within ±14:00, or Z', () => {
    for (const good of ['+00:00', '-05:00', '+05:45', '+14:00', '-14:00', '-09:30']) expect(utcOffset(good), good).toBe(good);
    expect(utcOffset('Z')).toBe('+00:00');
    for (const bad of ['+99:99', '+14:01', '+15:00', '05:00', '+5:00', '+0500', '+05:60', '', ' +01:00', '+01:00\n', 'UTC']) {
      expect(utcOffset(bad), JSON.stringify(bad)).toBeNull();
    }
  });
});
