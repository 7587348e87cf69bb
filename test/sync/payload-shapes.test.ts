// Payloads WHOOP's OpenAPI allows that the generous default fake never sends: list pages without
// `records` or `next_token`, int64 milliseconds beyond 32 bits, and `percent_recorded` on either scale.
import { describe, expect, it } from 'vitest';
import { expectedIds } from '../support/expected.js';
import { storedCount, storedIds, storedRow } from '../support/records.js';
import { syncHarness } from '../support/sync-harness.js';

describe('WHOOP payloads at the edges of the spec', () => {
  const h = syncHarness({ days: 40, whoop: { minimalPages: true } });
  const mine = <T extends { user_id: number }>(records: T[]) =>
    records.filter((r) => r.user_id === h.env.member.user_id);

  it('reads every page when the last one has no next_token, or when a full page\'s next_token leads to `{}`', async () => {
    const outcome = await h.sync(30);
    expect(outcome.error).toBeUndefined();
    expect(outcome.status).toBe('succeeded');
    const window = { start: outcome.run.windowStart!, end: outcome.run.windowEnd! };
    expect(await storedIds(h.db(), h.userId)).toEqual(expectedIds(h.env.whoop, h.env.member.user_id, window));
    // A full page carries a next_token even when nothing follows, so n records take floor(n / 25) + 1 pages.
    const expected = expectedIds(h.env.whoop, h.env.member.user_id, window);
    const paths = { cycles: 'cycle', recoveries: 'recovery', sleeps: 'activity/sleep', workouts: 'activity/workout' } as const;
    for (const [name, path] of Object.entries(paths) as Array<[keyof typeof paths, string]>) {
      const pages = h.env.whoop.stats.requests.filter((r) => r.path === `/developer/v2/${path}`).length;
      expect({ name, pages }).toEqual({ name, pages: Math.floor(expected[name].length / 25) + 1 });
    }
  });

  it('runs the window clean-up when the only page is `{}`', async () => {
    await h.sync(7);
    const stored = await storedCount(h.db(), 'whoop_workouts', { user_id: h.userId });
    expect(stored).toBeGreaterThan(0);
    const weekAgo = Date.now() - 8 * 86_400_000;
    const recent = mine(h.env.whoop.data.workouts).filter((w) => Date.parse(w.start) >= weekAgo);
    h.env.whoop.data.workouts = h.env.whoop.data.workouts.filter((w) => !recent.includes(w));
    try {
      const outcome = await h.sync(7);
      expect(outcome.error).toBeUndefined();
      expect(outcome.status).toBe('succeeded');
      expect(outcome.counts.workouts).toEqual({ upserted: 0, deleted: stored });
      expect(await storedCount(h.db(), 'whoop_workouts', { user_id: h.userId })).toBe(0);
    } finally {
      h.env.whoop.data.workouts.push(...recent);
    }
  });

  it('stores int64 milliseconds above 2^31 exactly, and percent_recorded as WHOOP sends it', async () => {
    const big = 2 ** 31 + 12_345; // ~24.9 days: more than a 32-bit integer holds
    const huge = Number.MAX_SAFE_INTEGER;
    const sleep = mine(h.env.whoop.data.sleeps).find((s) => s.score_state === 'SCORED' && Date.now() - Date.parse(s.start) < 2 * 86_400_000)!;
    const workout = mine(h.env.whoop.data.workouts).find((w) => w.score_state === 'SCORED' && Date.now() - Date.parse(w.start) < 2 * 86_400_000)!;
    sleep.score!.sleep_needed.baseline_milli = big;
    sleep.score!.sleep_needed.need_from_sleep_debt_milli = huge;
    workout.score!.zone_durations.zone_five_milli = big;
    workout.score!.percent_recorded = 0.99999595; // a real capture's fraction, although the spec says 0–100
    const other = mine(h.env.whoop.data.workouts).find((w) => w !== workout && w.score_state === 'SCORED' && Date.now() - Date.parse(w.start) < 3 * 86_400_000)!;
    other.score!.percent_recorded = 100; // the spec's scale

    const outcome = await h.sync(3);
    expect(outcome.error).toBeUndefined();
    const storedSleep = await storedRow(h.db(), 'whoop_sleeps', { id: sleep.id });
    expect(storedSleep.baseline_milli).toBe(BigInt(big));
    expect(storedSleep.need_from_sleep_debt_milli).toBe(BigInt(huge));
    const storedWorkout = await storedRow(h.db(), 'whoop_workouts', { id: workout.id });
    expect(storedWorkout.zone_five_milli).toBe(BigInt(big));
    expect(storedWorkout.percent_recorded).toBe(0.99999595);
    expect((await storedRow(h.db(), 'whoop_workouts', { id: other.id })).percent_recorded).toBe(100);
    // The same values through SQL, as a person querying the table sees them.
    const [row] = await h.db().prisma.$queryRaw<{ baseline: string }[]>`SELECT baseline_milli::text AS baseline FROM whoop_sleeps WHERE id = ${sleep.id}::uuid`;
    expect(row!.baseline).toBe(String(big));
  });
});
