// How the result message, the digest and the report write values, so the three read alike.
import { plural } from '../util/plural.js';
import { recoveryZone } from '../whoop/recovery-zone.js';
import type { DailyRow, ScoreState } from './daily.js';
import { MIN_BASELINE_DAYS, type Baseline, type WeekMeans } from './insights.js';

const ZONE_EMOJI = { green: '🟢', yellow: '🟡', red: '🔴' } as const;

/** `7 h 05 min` */
export function duration(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  const sign = minutes < 0 ? '−' : '';
  const abs = Math.abs(minutes);
  return `${sign}${Math.floor(abs / 60)} h ${String(abs % 60).padStart(2, '0')} min`;
}

export function round(value: number, digits = 0): string {
  return value.toFixed(digits);
}

/** `+4 %` / `−12 %` against a baseline. */
export function change(value: number, baseline: number): string {
  const percent = Math.round(((value - baseline) / baseline) * 100);
  return `${percent > 0 ? '+' : percent < 0 ? '−' : '±'}${Math.abs(percent)} %`;
}

/**
 * `30-day mean`, `3-day mean`: named after the days it really covers, never the nominal window. Several means
 * drawn together (a chart's line) that cover different numbers of days are a `mean of 3–30 days`.
 */
export function meanName(days: readonly number[]): string {
  const fewest = Math.min(...days);
  const most = Math.max(...days);
  return fewest === most ? `${most}-day mean` : `mean of ${fewest}–${most} days`;
}

/** `(−5 % vs 3-day mean 42)`, or why there is no comparison. */
export function versusMean(value: number, base: Baseline): string {
  if (base.mean === undefined) return `(no mean yet: ${MIN_BASELINE_DAYS} earlier days needed)`;
  return `(${change(value, base.mean)} vs ${meanName([base.days])} ${round(base.mean)})`;
}

/**
 * The weekly report's heading and the week it compares with: "vs the 7 before" only when all 7 days are held,
 * the days there are when fewer, and no comparison below MIN_BASELINE_DAYS.
 */
export function weekComparison(week: WeekMeans, before: WeekMeans): { before: WeekMeans | undefined; header: string } {
  const means = week.days === 7 ? 'means of the last 7 days' : `means of ${week.days} of the last 7 days`;
  if (before.days === 7) return { before, header: `${means} (vs the 7 before)` };
  if (before.days >= MIN_BASELINE_DAYS) return { before, header: `${means} (vs ${before.days} of the 7 days before)` };
  const why = before.days === 0 ? 'no data in the 7 days before' : `only ${plural(before.days, 'day')} of data in the 7 before`;
  return { before: undefined, header: `${means} (no comparison: ${why})` };
}

function notScored(what: string, state: ScoreState | null): string | undefined {
  if (state === 'PENDING_SCORE') return `${what} not scored yet`;
  if (state === 'UNSCORABLE') return `${what} unscorable`;
  return undefined;
}

/** `recovery 72 % 🟢 green`, or why there is none. */
export function recovery(row: Pick<DailyRow, 'recoveryState' | 'recoveryScore'>): string {
  if (row.recoveryScore === null) return notScored('recovery', row.recoveryState) ?? 'no recovery';
  const zone = recoveryZone(row.recoveryScore);
  return `recovery ${round(row.recoveryScore)} % ${ZONE_EMOJI[zone.name]} ${zone.name}`;
}

/** `slept 7 h 05 min, performance 88 %`, or why there is no sleep. */
export function sleep(row: Pick<DailyRow, 'sleepState' | 'asleepMs' | 'sleepPerformance'>): string {
  if (row.asleepMs === null) return notScored('sleep', row.sleepState) ?? 'no sleep recorded';
  const performance = row.sleepPerformance === null ? '' : `, performance ${round(row.sleepPerformance)} %`;
  return `slept ${duration(row.asleepMs)}${performance}`;
}

/** `strain 12.4`, or why there is none. */
export function strain(row: Pick<DailyRow, 'cycleState' | 'strain'> | undefined): string {
  if (row === undefined) return 'no completed day yet';
  if (row.strain === null) return notScored('strain', row.cycleState) ?? 'no strain';
  return `strain ${round(row.strain, 1)}`;
}

/** `Tue 1 Dec` for a `YYYY-MM-DD` day. */
// One formatter for every label: building one costs far more than formatting with it, and a flood of
// /sync results formats a label per account and run.
const DAY_LABEL = new Intl.DateTimeFormat('en-GB', { weekday: 'short', day: 'numeric', month: 'short', timeZone: 'UTC' });

export function dayLabel(day: string): string {
  return DAY_LABEL.format(new Date(`${day}T12:00:00Z`));
}
