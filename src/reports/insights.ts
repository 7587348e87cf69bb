// The rules behind the digest and the report (documented in docs/reports.md): baselines, flags, weekly means.
import { recoveryZone } from '../whoop/recovery-zone.js';
import type { DailyRow } from './daily.js';
import { addDays } from './days.js';

export const BASELINE_DAYS = 30;
/** Fewest days carrying a value before a mean of them is shown or compared with (docs/reports.md says why). */
export const MIN_BASELINE_DAYS = 3;
export const FLAG_RUN = 3;
export const HRV_DROP = 0.15;
export const POOR_SLEEP_PERFORMANCE = 70;

export type FlagKind = 'hrv_low' | 'recovery_red' | 'sleep_poor';

function mean(values: readonly (number | null | undefined)[]): number | undefined {
  const present = values.filter((value): value is number => typeof value === 'number' && Number.isFinite(value));
  return present.length === 0 ? undefined : present.reduce((sum, value) => sum + value, 0) / present.length;
}

/** A member's rows by day. */
export function byDay(rows: readonly DailyRow[]): Map<string, DailyRow> {
  return new Map(rows.map((row) => [row.day, row]));
}

export interface Baseline {
  /** The mean of the values present; undefined when fewer than MIN_BASELINE_DAYS days carry one. */
  mean: number | undefined;
  /** Days of the window the service holds (a day without the value still counts): the N of "N-day mean". */
  days: number;
}

/** Mean of a value over the days held among the BASELINE_DAYS before `day` (the day itself excluded). */
export function baseline(
  days: Map<string, DailyRow>,
  day: string,
  value: (row: DailyRow) => number | null,
): Baseline {
  const values: (number | null)[] = [];
  for (let back = 1; back <= BASELINE_DAYS; back += 1) {
    const row = days.get(addDays(day, -back));
    if (row) values.push(value(row));
  }
  const present = values.filter((entry) => entry !== null).length;
  return { mean: present >= MIN_BASELINE_DAYS ? mean(values) : undefined, days: values.length };
}

/** True when `test` holds on each of the FLAG_RUN calendar days ending on `day` (a missing day breaks the run). */
function running(days: Map<string, DailyRow>, day: string, test: (row: DailyRow, day: string) => boolean): boolean {
  for (let back = 0; back < FLAG_RUN; back += 1) {
    const row = days.get(addDays(day, -back));
    if (!row || !test(row, row.day)) return false;
  }
  return true;
}

/** The flags that hold on `day`. */
export function flags(days: Map<string, DailyRow>, day: string): FlagKind[] {
  const found: FlagKind[] = [];
  const hrvLow = (row: DailyRow, on: string) => {
    const base = baseline(days, on, (r) => r.hrvMs).mean;
    return row.hrvMs !== null && base !== undefined && row.hrvMs <= base * (1 - HRV_DROP);
  };
  if (running(days, day, hrvLow)) found.push('hrv_low');
  if (running(days, day, (row) => row.recoveryScore !== null && recoveryZone(row.recoveryScore).name === 'red')) found.push('recovery_red');
  if (running(days, day, (row) => row.sleepPerformance !== null && row.sleepPerformance < POOR_SLEEP_PERFORMANCE)) found.push('sleep_poor');
  return found;
}

export interface WeekMeans {
  recovery: number | undefined;
  hrv: number | undefined;
  restingHeartRate: number | undefined;
  asleepMs: number | undefined;
  /** From completed days only: the strain of a day in progress is not final. */
  strain: number | undefined;
  days: number;
}

/** Means over the 7 days ending on `lastDay`. */
export function weekMeans(days: Map<string, DailyRow>, lastDay: string): WeekMeans {
  const rows = Array.from({ length: 7 }, (_, back) => days.get(addDays(lastDay, -back)))
    .filter((row): row is DailyRow => row !== undefined);
  return {
    recovery: mean(rows.map((row) => row.recoveryScore)),
    hrv: mean(rows.map((row) => row.hrvMs)),
    restingHeartRate: mean(rows.map((row) => row.restingHeartRate)),
    asleepMs: mean(rows.map((row) => row.asleepMs)),
    strain: mean(rows.filter((row) => row.cycleEnded).map((row) => row.strain)),
    days: rows.length,
  };
}
