import { describe, expect, it } from 'vitest';
import { storedCount, storedIds, storedRow, storedRows } from '../support/records.js';
import { syncHarness } from '../support/sync-harness.js';
import { expectedIds } from '../support/expected.js';

describe('the sync engine against the fake WHOOP', () => {
  const h = syncHarness({ days: 100, whoop: { accessTokenLifetimeSeconds: 3600 } });

  it('stores exactly the records of the window, reading every page', async () => {
    const outcome = await h.sync(90);
    expect(outcome.status).toBe('succeeded');
    const window = { start: outcome.run.windowStart!, end: outcome.run.windowEnd! };
    expect(window.end.getTime() - window.start.getTime()).toBe(90 * 86_400_000);
    const expected = expectedIds(h.env.whoop, h.env.member.user_id, window);
    expect(expected.cycles.length).toBeGreaterThan(75); // several pages of 25
    expect(await storedIds(h.db(), h.userId)).toEqual(expected);
    expect(outcome.counts).toEqual({
      cycles: { upserted: expected.cycles.length, deleted: 0 },
      recoveries: { upserted: expected.recoveries.length, deleted: 0 },
      sleeps: { upserted: expected.sleeps.length, deleted: 0 },
      workouts: { upserted: expected.workouts.length, deleted: 0 },
    });
    const cyclePages = h.env.whoop.stats.requests.filter((r) => r.path === '/developer/v2/cycle');
    expect(cyclePages.length).toBe(Math.ceil(expected.cycles.length / 25));
    expect(cyclePages.every((r) => r.query.limit === '25' && r.query.start === window.start.toISOString())).toBe(true);
    expect(cyclePages.slice(1).every((r) => r.query.nextToken)).toBe(true);
    const run = await h.db().prisma.syncRun.findUniqueOrThrow({ where: { id: outcome.run.id } });
    expect(run).toMatchObject({ status: 'succeeded', trigger: 'cli', requestedBy: 'test', days: 90, accounts: 1, error: null });
    expect(run.finishedAt!.getTime()).toBeGreaterThanOrEqual(run.startedAt!.getTime());
  });

  it('stores typed columns and the raw record; unscored records are updated once scored', async () => {
    await h.sync(3);
    const pending = h.env.whoop.data.cycles.find((c) => c.user_id === h.env.member.user_id && c.score_state === 'PENDING_SCORE')!;
    const stored = await storedRow(h.db(), 'whoop_cycles', { id: BigInt(pending.id) });
    expect(stored).toMatchObject({ score_state: 'PENDING_SCORE', strain: null, end: null });
    expect(stored.raw).toEqual(pending);

    pending.score_state = 'SCORED';
    pending.score = { strain: 12.5, kilojoule: 9000, average_heart_rate: 70, max_heart_rate: 170 };
    pending.updated_at = new Date().toISOString();
    await h.sync(3);
    const scored = await storedRow(h.db(), 'whoop_cycles', { id: BigInt(pending.id) });
    expect(scored).toMatchObject({ score_state: 'SCORED', strain: 12.5, kilojoule: 9000, average_heart_rate: 70, max_heart_rate: 170 });

    const sleep = await storedRow(h.db(), 'whoop_sleeps', { user_id: h.userId, score_state: 'SCORED', nap: false });
    const source = h.env.whoop.data.sleeps.find((s) => s.id === sleep.id)!;
    expect(sleep.total_rem_sleep_time_milli).toBe(source.score!.stage_summary.total_rem_sleep_time_milli);
    const recovery = await storedRow(h.db(), 'whoop_recoveries', { user_id: h.userId });
    const sleepOfRecovery = h.env.whoop.data.sleeps.find((s) => s.id === recovery.sleep_id)!;
    expect(recovery.sleep_start?.toISOString()).toBe(new Date(sleepOfRecovery.start).toISOString());
  });

  it('a second sync keeps the same rows and refreshes synced_at', async () => {
    const first = await h.sync(14);
    const before = await storedRows(h.db(), 'whoop_cycles', {}, 'id');
    const second = await h.sync(14);
    const after = await storedRows(h.db(), 'whoop_cycles', {}, 'id');
    expect(second.counts).toEqual(first.counts);
    expect(after.map((c) => c.id)).toEqual(before.map((c) => c.id));
    for (const [i, row] of after.entries()) {
      expect(row.synced_at.getTime()).toBeGreaterThan(before[i]!.synced_at.getTime());
    }
    // The seed's verification query.
    const fresh = await h.db().prisma.$queryRaw<{ synced_at: Date }[]>`SELECT synced_at FROM whoop_cycles ORDER BY synced_at DESC LIMIT 3`;
    expect(fresh).toHaveLength(3);
    expect(Date.now() - fresh[0]!.synced_at.getTime()).toBeLessThan(60_000);
  });

  it('deletes what WHOOP no longer returns in the window and leaves records outside it alone', async () => {
    await h.sync(60);
    const mine = (r: { user_id: number }) => r.user_id === h.env.member.user_id;
    const newest = h.env.whoop.data.workouts.filter(mine).sort((a, b) => Date.parse(b.start) - Date.parse(a.start))[0]!;
    const age = (w: { start: string }) => (Date.now() - Date.parse(w.start)) / 86_400_000;
    const old = h.env.whoop.data.workouts.filter(mine).find((w) => age(w) > 30 && age(w) < 55)!;
    expect(await storedCount(h.db(), 'whoop_workouts', { id: old.id })).toBe(1);
    h.env.whoop.data.workouts.splice(h.env.whoop.data.workouts.indexOf(newest), 1);
    h.env.whoop.data.workouts.splice(h.env.whoop.data.workouts.indexOf(old), 1);
    try {
      const outcome = await h.sync(7);
      expect(outcome.counts.workouts.deleted).toBe(1);
      expect(await storedCount(h.db(), 'whoop_workouts', { id: newest.id })).toBe(0);
      // Outside the 7-day window: untouched although WHOOP deleted it too.
      expect(await storedCount(h.db(), 'whoop_workouts', { id: old.id })).toBe(1);
    } finally {
      h.env.whoop.data.workouts.push(newest, old);
    }
  });
});
