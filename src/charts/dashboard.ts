// Vega-Lite specs of the dashboard's charts, built from one member's days. The specs carry their data, so
// the browser only draws them. Every mark that stands for a day has a name (it becomes the CSS class of
// the mark's group in the SVG), which is how the browser tests count what was drawn.
import type { TopLevelSpec } from 'vega-lite';
import { meanName } from '../reports/format.js';
import { MIN_BASELINE_DAYS } from '../reports/insights.js';
import { RECOVERY_ZONES, recoveryZone, type RecoveryZone } from '../whoop/recovery-zone.js';
import { centred, dayAxis, dayTooltip } from './days.js';

/** One member's day as the charts use it: durations in hours, absent values null. */
export interface DailyPoint {
  /** The member's local date, YYYY-MM-DD. */
  day: string;
  recoveryScore: number | null;
  hrv: number | null;
  /** Mean over the 30 days ending on this day; null below MIN_BASELINE_DAYS days carrying the value. */
  hrvMean: number | null;
  restingHeartRate: number | null;
  restingHeartRateMean: number | null;
  /** Days of those 30 the service holds: what the mean really covers. */
  meanDays: number;
  lightSleepHours: number | null;
  slowWaveSleepHours: number | null;
  remSleepHours: number | null;
  sleepPerformance: number | null;
  strain: number | null;
  workouts: number;
  workoutMinutes: number;
}

/** A zone's name as the dashboard writes it (legend, tooltips, summary), so colour is never the only cue. */
export const zoneName = (zone: RecoveryZone) => `${zone.label} ${zone.min}–${zone.max}%`;

export interface DashboardCharts {
  recovery: TopLevelSpec;
  hrv: TopLevelSpec;
  restingHeartRate: TopLevelSpec;
  sleep: TopLevelSpec;
  strain: TopLevelSpec;
}

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
const HEIGHT = 180;
const SLEEP_STAGES = ['Light', 'Slow-wave (deep)', 'REM'] as const;

/** The days every chart of a page covers, YYYY-MM-DD, inclusive: one x scale for all of them. */
export interface DayRange {
  from: string;
  to: string;
}

type X = ReturnType<typeof dayAxis>;

function base(description: string) {
  return { $schema: SCHEMA, description, width: 'container', height: HEIGHT, autosize: { type: 'fit-x', contains: 'padding' } } as const;
}

const present = <K extends keyof DailyPoint>(days: DailyPoint[], key: K) => days.filter((day) => day[key] !== null);

/** A legend entry for a layer drawn in one style: the channel maps the one name to the one style. */
function legendOf(name: string, style: string | number[]) {
  return { datum: name, scale: { domain: [name], range: [style] }, legend: { orient: 'bottom', title: null } } as const;
}

function recoveryChart(days: DailyPoint[], x: X): TopLevelSpec {
  const values = present(days, 'recoveryScore').map((day) => ({ day: day.day, score: day.recoveryScore, zone: zoneName(recoveryZone(day.recoveryScore!)) }));
  return {
    ...base('Recovery by day, coloured by zone'),
    data: { values },
    // A layer of one, so this chart's x scale is the page's shared `x` as in the others.
    encoding: { x },
    layer: [
      {
        name: 'recovery_bars',
        mark: { type: 'bar', tooltip: true },
        encoding: {
          y: { field: 'score', type: 'quantitative', title: 'Recovery %', scale: { domain: [0, 100] } },
          color: {
            field: 'zone',
            type: 'nominal',
            title: 'Zone',
            scale: { domain: RECOVERY_ZONES.map(zoneName), range: RECOVERY_ZONES.map((zone) => zone.colour) },
            legend: { orient: 'bottom' },
          },
          tooltip: [dayTooltip, { field: 'score', type: 'quantitative', title: 'Recovery %' }, { field: 'zone', title: 'Zone' }],
        },
      },
    ],
  };
}

/**
 * A daily value as points with its mean as a dashed line, named in the legend after the days the means really
 * cover (`30-day mean`, or `mean of 3–30 days` while the history is shorter).
 */
function withMean(
  what: string,
  days: DailyPoint[],
  x: X,
  series: { value: 'hrv' | 'restingHeartRate'; mean: 'hrvMean' | 'restingHeartRateMean'; title: string; name: string; colour: string },
): TopLevelSpec {
  const { value, mean, title, name, colour } = series;
  const means = days.filter((day) => day[value] !== null && day[mean] !== null).map((day) => day.meanDays);
  const label = means.length > 0 ? meanName(means) : undefined;
  const values = present(days, value).map((day) => ({
    day: day.day,
    value: day[value],
    ...(day[mean] === null ? {} : { mean: day[mean], meanDays: day.meanDays }),
  }));
  const description = label === undefined
    ? `${what} by day (no mean yet: ${MIN_BASELINE_DAYS} days needed)`
    : `${what} by day with its ${label} (dashed)`;
  return {
    ...base(description),
    data: { values },
    encoding: { x: centred(x) },
    layer: [
      {
        name: `${name}_points`,
        mark: { type: 'point', filled: true, color: colour, tooltip: true },
        encoding: {
          shape: legendOf(title, 'circle'),
          y: { field: 'value', type: 'quantitative', title, scale: { zero: false } },
          tooltip: [
            dayTooltip,
            { field: 'value', type: 'quantitative', title, format: '.0f' },
            { field: 'mean', type: 'quantitative', title: 'Mean', format: '.1f' },
            { field: 'meanDays', type: 'quantitative', title: 'Days in the mean' },
          ],
        },
      },
      {
        name: `${name}_mean`,
        transform: [{ filter: 'isValid(datum.mean)' }],
        mark: { type: 'line', color: colour, strokeWidth: 2 },
        encoding: { strokeDash: legendOf(label ?? 'no mean yet', [6, 3]), y: { field: 'mean', type: 'quantitative' } },
      },
    ],
  };
}

const hrvChart = (days: DailyPoint[], x: X) =>
  withMean('HRV (RMSSD)', days, x, {
    value: 'hrv',
    mean: 'hrvMean',
    title: 'HRV ms',
    name: 'hrv',
    colour: '#2563eb',
  });

const restingHeartRateChart = (days: DailyPoint[], x: X) =>
  withMean('Resting heart rate', days, x, {
    value: 'restingHeartRate',
    mean: 'restingHeartRateMean',
    title: 'Resting HR bpm',
    name: 'resting_hr',
    colour: '#db2777',
  });

function sleepChart(days: DailyPoint[], x: X): TopLevelSpec {
  const slept = present(days, 'lightSleepHours');
  const stages = slept.flatMap((day) =>
    [day.lightSleepHours, day.slowWaveSleepHours, day.remSleepHours].map((hours, index) => ({
      day: day.day,
      stage: SLEEP_STAGES[index],
      order: index,
      hours,
    })),
  );
  const performance = present(days, 'sleepPerformance').map((day) => ({ day: day.day, performance: day.sleepPerformance }));
  return {
    ...base('Time asleep by stage (bars) and sleep performance (points)'),
    encoding: { x },
    layer: [
      {
        data: { values: stages },
        name: 'sleep_stages',
        mark: { type: 'bar', tooltip: true },
        encoding: {
          y: { field: 'hours', type: 'quantitative', title: 'Hours asleep', stack: 'zero' },
          color: { field: 'stage', type: 'nominal', title: 'Stage', scale: { domain: [...SLEEP_STAGES], range: ['#93c5fd', '#1e3a8a', '#7c3aed'] }, legend: { orient: 'bottom' } },
          order: { field: 'order', type: 'quantitative' },
          tooltip: [dayTooltip, { field: 'stage', title: 'Stage' }, { field: 'hours', type: 'quantitative', title: 'Hours', format: '.1f' }],
        },
      },
      {
        data: { values: performance },
        name: 'sleep_performance',
        mark: { type: 'point', filled: true, color: '#f97316', tooltip: true },
        encoding: {
          x: centred(x),
          shape: legendOf('Sleep performance %', 'diamond'),
          y: { field: 'performance', type: 'quantitative', title: 'Sleep performance %', scale: { domain: [0, 100] } },
          tooltip: [dayTooltip, { field: 'performance', type: 'quantitative', title: 'Sleep performance %' }],
        },
      },
    ],
    resolve: { scale: { y: 'independent' } },
  };
}

function strainChart(days: DailyPoint[], x: X): TopLevelSpec {
  const strain = present(days, 'strain').map((day) => ({ day: day.day, strain: day.strain }));
  const workouts = days
    .filter((day) => day.workouts > 0)
    .map((day) => ({ day: day.day, workouts: day.workouts, minutes: day.workoutMinutes }));
  return {
    ...base('Day strain (bars) and minutes of workouts (triangles)'),
    encoding: { x },
    layer: [
      {
        data: { values: strain },
        name: 'strain_bars',
        mark: { type: 'bar', tooltip: true },
        encoding: {
          color: legendOf('Day strain', '#0891b2'),
          y: { field: 'strain', type: 'quantitative', title: 'Day strain', scale: { domain: [0, 21] } },
          tooltip: [dayTooltip, { field: 'strain', type: 'quantitative', title: 'Day strain', format: '.1f' }],
        },
      },
      {
        data: { values: workouts },
        name: 'workouts',
        mark: { type: 'point', filled: true, color: '#111827', size: 60, tooltip: true },
        encoding: {
          x: centred(x),
          shape: legendOf('Workout minutes', 'triangle-up'),
          y: { field: 'minutes', type: 'quantitative', title: 'Workout minutes', scale: { domainMin: 0 } },
          tooltip: [dayTooltip, { field: 'workouts', type: 'quantitative', title: 'Workouts' }, { field: 'minutes', type: 'quantitative', title: 'Minutes' }],
        },
      },
    ],
    resolve: { scale: { y: 'independent' } },
  };
}

/** The page's charts over the same days: one x scale for all of them, whatever days hold data. */
export function dashboardCharts(days: DailyPoint[], range: DayRange): DashboardCharts {
  const x = dayAxis(range.from, range.to);
  return {
    recovery: recoveryChart(days, x),
    hrv: hrvChart(days, x),
    restingHeartRate: restingHeartRateChart(days, x),
    sleep: sleepChart(days, x),
    strain: strainChart(days, x),
  };
}
