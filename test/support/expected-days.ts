// The days a member's WHOOP records describe, computed straight from the fake WHOOP's records (not from the
// service's SQL), for checking the numbers in the result message, the digest and the report.
import type { FakeWhoopData } from '../fakes/whoop-server.js';

export interface ExpectedDay {
  day: string;
  cycleEnded: boolean;
  recoveryState: string | undefined;
  recovery: number | undefined;
  hrv: number | undefined;
  rhr: number | undefined;
  asleepMs: number | undefined;
  sleepNeededMs: number | undefined;
  sleepDebtMs: number | undefined;
  performance: number | undefined;
  efficiency: number | undefined;
  strain: number | undefined;
}

function localDate(iso: string, offset: string): string {
  const match = /^([+-])(\d\d):(\d\d)$/.exec(offset || '+00:00');
  const sign = match?.[1] === '-' ? -1 : 1;
  const minutes = match ? sign * (Number(match[2]) * 60 + Number(match[3])) : 0;
  return new Date(Date.parse(iso) + minutes * 60_000).toISOString().slice(0, 10);
}

/** Every day of `userId`, oldest first; a day is named after the local date the member woke up. */
export function expectedDays(data: FakeWhoopData, userId: number): ExpectedDay[] {
  const byDay = new Map<string, { start: number; day: ExpectedDay }>();
  for (const cycle of data.cycles.filter((c) => c.user_id === userId)) {
    const sleep = data.sleeps
      .filter((s) => s.cycle_id === cycle.id && !s.nap)
      .sort((a, b) => Date.parse(b.end) - Date.parse(b.start) - (Date.parse(a.end) - Date.parse(a.start)))[0];
    const recovery = data.recoveries.find((r) => r.cycle_id === cycle.id);
    const stages = sleep?.score?.stage_summary;
    const need = sleep?.score?.sleep_needed;
    const day = localDate(sleep?.end ?? cycle.start, cycle.timezone_offset);
    const entry: ExpectedDay = {
      day,
      cycleEnded: cycle.end !== null,
      recoveryState: recovery?.score_state,
      recovery: recovery?.score?.recovery_score,
      hrv: recovery?.score?.hrv_rmssd_milli,
      rhr: recovery?.score?.resting_heart_rate,
      asleepMs: stages
        ? stages.total_light_sleep_time_milli +
          stages.total_slow_wave_sleep_time_milli +
          stages.total_rem_sleep_time_milli
        : undefined,
      sleepNeededMs: need
        ? need.baseline_milli +
          need.need_from_sleep_debt_milli +
          need.need_from_recent_strain_milli +
          need.need_from_recent_nap_milli
        : undefined,
      sleepDebtMs: need?.need_from_sleep_debt_milli,
      performance: sleep?.score?.sleep_performance_percentage ?? undefined,
      efficiency: sleep?.score?.sleep_efficiency_percentage,
      strain: cycle.score?.strain,
    };
    const start = Date.parse(cycle.start);
    const existing = byDay.get(day);
    if (!existing || existing.start < start) byDay.set(day, { start, day: entry });
  }
  return [...byDay.values()].map((value) => value.day).sort((a, b) => a.day.localeCompare(b.day));
}
