// What the dashboard should draw for a member, counted from the fake WHOOP's records (not from the
// database or the view): one point per local day, the day being the local date the main sleep ended on.
import type { FakeWhoop } from '../fakes/whoop-server.js';

export interface ExpectedMarks {
  recovery_bars: number;
  hrv_points: number;
  resting_hr_points: number;
  sleep_stages: number;
  sleep_performance: number;
  strain_bars: number;
  workouts: number;
}

function offsetMinutes(label: string): number {
  if (label === 'Z' || label === '') return 0;
  const match = /^([+-])(\d{2}):(\d{2})$/.exec(label);
  if (!match) throw new Error(`unexpected timezone offset ${label}`);
  return (match[1] === '-' ? -1 : 1) * (Number(match[2]) * 60 + Number(match[3]));
}

const localDate = (iso: string, offset: string) =>
  new Date(Date.parse(iso) + offsetMinutes(offset) * 60_000).toISOString().slice(0, 10);

/** The first day of a range of `range` days ending today (UTC, the tests' SYNC_TIMEZONE). */
function firstDay(range: number, now = new Date()): string {
  const start = new Date(`${now.toISOString().slice(0, 10)}T00:00:00Z`);
  start.setUTCDate(start.getUTCDate() - (range - 1));
  return start.toISOString().slice(0, 10);
}

export function expectedMarks(whoop: Pick<FakeWhoop, 'data'>, userId: number, range: number): ExpectedMarks {
  const from = firstDay(range);
  const counts: ExpectedMarks = {
    recovery_bars: 0,
    hrv_points: 0,
    resting_hr_points: 0,
    sleep_stages: 0,
    sleep_performance: 0,
    strain_bars: 0,
    workouts: 0,
  };
  const { cycles, sleeps, recoveries, workouts } = whoop.data;
  for (const cycle of cycles.filter((c) => c.user_id === userId)) {
    const main = sleeps
      .filter((s) => s.cycle_id === cycle.id && !s.nap)
      .sort((a, b) => Date.parse(b.end) - Date.parse(b.start) - (Date.parse(a.end) - Date.parse(a.start)))[0];
    const day = localDate(main?.end ?? cycle.start, cycle.timezone_offset);
    if (day < from) continue;
    const recovery = recoveries.find((r) => r.cycle_id === cycle.id);
    if (recovery?.score) {
      counts.recovery_bars += 1;
      counts.hrv_points += 1;
      counts.resting_hr_points += 1;
    }
    if (main?.score) {
      counts.sleep_stages += 3;
      if (main.score.sleep_performance_percentage != null) counts.sleep_performance += 1;
    }
    if (cycle.score) counts.strain_bars += 1;
    const start = Date.parse(cycle.start);
    const end = cycle.end ? Date.parse(cycle.end) : Infinity;
    if (workouts.some((w) => w.user_id === userId && Date.parse(w.start) >= start && Date.parse(w.start) < end)) {
      counts.workouts += 1;
    }
  }
  return counts;
}
