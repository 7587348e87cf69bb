// Vega-Lite specs of the dashboard's charts, built from one member's days. The specs carry their data, so
// the browser only draws them. Every mark that stands for a day has a name (it becomes the CSS class of
// the mark's group in the SVG), which is how the browser tests count what was drawn.
import type { TopLevelSpec } from 'vega-lite';
import { RECOVERY_ZONES, recoveryZone, type RecoveryZone } from '../whoop/recovery-zone.js';

/** One member's day as the charts use it: durations in hours, absent values null. */
export interface DailyPoint {
  /** The member's local date, YYYY-MM-DD. */
  day: string;
  recoveryScore: number | null;
  hrv: number | null;
  hrvMean30: number | null;
  restingHeartRate: number | null;
  restingHeartRateMean30: number | null;
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

// A day is a local date without a time: drawn and labelled in UTC so no time zone shifts it.
const dayAxis = { field: 'day', type: 'temporal', timeUnit: 'utcyearmonthdate', title: null, axis: { format: '%b %d', labelOverlap: true } } as const;
const dayTooltip = { field: 'day', type: 'temporal', timeUnit: 'utcyearmonthdate', title: 'Day', format: '%a %b %d, %Y' } as const;

function base(description: string) {
  return { $schema: SCHEMA, description, width: 'container', height: HEIGHT, autosize: { type: 'fit-x', contains: 'padding' } } as const;
}

const present = <K extends keyof DailyPoint>(days: DailyPoint[], key: K) => days.filter((day) => day[key] !== null);

function recoveryChart(days: DailyPoint[]): TopLevelSpec {
  const values = present(days, 'recoveryScore').map((day) => ({ day: day.day, score: day.recoveryScore, zone: zoneName(recoveryZone(day.recoveryScore!)) }));
  return {
    ...base('Recovery by day, coloured by zone'),
    data: { values },
    name: 'recovery_bars',
    mark: { type: 'bar', tooltip: true },
    encoding: {
      x: dayAxis,
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
  };
}

/** A daily value as points with its 30-day mean as a line. */
function withMean(description: string, days: DailyPoint[], value: 'hrv' | 'restingHeartRate', mean: 'hrvMean30' | 'restingHeartRateMean30', title: string, name: string, colour: string): TopLevelSpec {
  const values = present(days, value).map((day) => ({ day: day.day, value: day[value], mean: day[mean] }));
  return {
    ...base(description),
    data: { values },
    encoding: { x: dayAxis },
    layer: [
      {
        name: `${name}_points`,
        mark: { type: 'point', filled: true, color: colour, tooltip: true },
        encoding: {
          y: { field: 'value', type: 'quantitative', title, scale: { zero: false } },
          tooltip: [dayTooltip, { field: 'value', type: 'quantitative', title, format: '.0f' }, { field: 'mean', type: 'quantitative', title: '30-day mean', format: '.1f' }],
        },
      },
      {
        name: `${name}_mean`,
        mark: { type: 'line', color: colour, strokeDash: [6, 3], strokeWidth: 2 },
        encoding: { y: { field: 'mean', type: 'quantitative' } },
      },
    ],
  };
}

const hrvChart = (days: DailyPoint[]) =>
  withMean('HRV (RMSSD) by day with its 30-day mean (dashed)', days, 'hrv', 'hrvMean30', 'HRV ms', 'hrv', '#2563eb');

const restingHeartRateChart = (days: DailyPoint[]) =>
  withMean('Resting heart rate by day with its 30-day mean (dashed)', days, 'restingHeartRate', 'restingHeartRateMean30', 'Resting HR bpm', 'resting_hr', '#db2777');

function sleepChart(days: DailyPoint[]): TopLevelSpec {
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
    encoding: { x: dayAxis },
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
        mark: { type: 'point', shape: 'diamond', filled: true, color: '#f97316', tooltip: true },
        encoding: {
          y: { field: 'performance', type: 'quantitative', title: 'Sleep performance %', scale: { domain: [0, 100] } },
          tooltip: [dayTooltip, { field: 'performance', type: 'quantitative', title: 'Sleep performance %' }],
        },
      },
    ],
    resolve: { scale: { y: 'independent' } },
  };
}

function strainChart(days: DailyPoint[]): TopLevelSpec {
  const strain = present(days, 'strain').map((day) => ({ day: day.day, strain: day.strain }));
  const workouts = days
    .filter((day) => day.workouts > 0)
    .map((day) => ({ day: day.day, workouts: day.workouts, minutes: day.workoutMinutes }));
  return {
    ...base('Day strain (bars) and minutes of workouts (triangles)'),
    encoding: { x: dayAxis },
    layer: [
      {
        data: { values: strain },
        name: 'strain_bars',
        mark: { type: 'bar', color: '#0891b2', tooltip: true },
        encoding: {
          y: { field: 'strain', type: 'quantitative', title: 'Day strain', scale: { domain: [0, 21] } },
          tooltip: [dayTooltip, { field: 'strain', type: 'quantitative', title: 'Day strain', format: '.1f' }],
        },
      },
      {
        data: { values: workouts },
        name: 'workouts',
        mark: { type: 'point', shape: 'triangle-up', filled: true, color: '#111827', size: 60, tooltip: true },
        encoding: {
          y: { field: 'minutes', type: 'quantitative', title: 'Workout minutes', scale: { domainMin: 0 } },
          tooltip: [dayTooltip, { field: 'workouts', type: 'quantitative', title: 'Workouts' }, { field: 'minutes', type: 'quantitative', title: 'Minutes' }],
        },
      },
    ],
    resolve: { scale: { y: 'independent' } },
  };
}

export function dashboardCharts(days: DailyPoint[]): DashboardCharts {
  return {
    recovery: recoveryChart(days),
    hrv: hrvChart(days),
    restingHeartRate: restingHeartRateChart(days),
    sleep: sleepChart(days),
    strain: strainChart(days),
  };
}
