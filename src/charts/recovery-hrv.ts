import type { TopLevelSpec } from 'vega-lite';
import { RECOVERY_ZONES, recoveryZone } from '../whoop/recovery-zone.js';
import { DAY_MS } from '../util/time.js';
import { centred, dayAxis, dayTooltip } from './days.js';

/** One day of a member's data, as the chart needs it (a subset of a `whoop_daily` row). */
export interface ChartDay {
  /** Local date, `YYYY-MM-DD`. */
  day: string;
  recoveryScore: number | null;
  hrvMs: number | null;
}

const CHART_DAYS = 28;
export const CHART_WIDTH = 720;
export const CHART_HEIGHT = 320;


/**
 * Vega-Lite spec of the last 28 days ending on `endDay` (default: the latest day in `rows`): recovery bars coloured by
 * WHOOP zone, HRV as a line on a second axis. Plain JSON, so a page can render the same spec with vega-embed.
 * Dates are UTC calendar dates so that neither the server's nor the browser's timezone shifts a bar.
 */
export function recoveryHrvChart(
  rows: readonly ChartDay[],
  options: { endDay?: string; title?: string } = {},
): TopLevelSpec {
  const endDay = options.endDay ?? rows.reduce((latest, row) => (row.day > latest ? row.day : latest), '');
  const end = endDay ? Date.parse(`${endDay}T00:00:00Z`) : Date.now();
  const start = end - (CHART_DAYS - 1) * DAY_MS;
  const values = rows
    .filter((row) => {
      const at = Date.parse(`${row.day}T00:00:00Z`);
      return at >= start && at <= end;
    })
    .map((row) => ({
      day: row.day,
      recovery: row.recoveryScore,
      zone: row.recoveryScore === null ? null : recoveryZone(row.recoveryScore).label,
      hrv: row.hrvMs === null ? null : Math.round(row.hrvMs * 10) / 10,
    }));
  // The dashboard's day axis, with a week between labels at this fixed width.
  const days = dayAxis(isoDay(start), isoDay(end));
  const x = { ...days, axis: { ...days.axis, labelAngle: 0, tickCount: 7 } };
  const tooltip = [
    dayTooltip,
    { field: 'recovery', type: 'quantitative' as const, title: 'Recovery %' },
    { field: 'zone', type: 'nominal' as const, title: 'Zone' },
    { field: 'hrv', type: 'quantitative' as const, title: 'HRV ms' },
  ];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: options.title ?? 'Recovery and HRV, last 28 days',
    width: CHART_WIDTH,
    height: CHART_HEIGHT,
    autosize: { type: 'fit', contains: 'padding' },
    background: 'white',
    padding: 12,
    data: { values },
    layer: [
      {
        mark: { type: 'bar', cornerRadiusEnd: 2 },
        transform: [{ filter: 'datum.recovery !== null' }],
        encoding: {
          x,
          y: {
            field: 'recovery',
            type: 'quantitative',
            title: 'Recovery %',
            scale: { domain: [0, 100] },
          },
          color: {
            field: 'zone',
            type: 'nominal',
            title: 'Recovery zone',
            scale: {
              domain: RECOVERY_ZONES.map((zone) => zone.label),
              range: RECOVERY_ZONES.map((zone) => zone.colour),
            },
            legend: {
              orient: 'bottom',
              labelExpr: RECOVERY_ZONES.map(
                (zone) => `datum.label === '${zone.label}' ? '${zone.label} ${zone.min}–${zone.max}' : `,
              ).join('') + 'datum.label',
            },
          },
          tooltip,
        },
      },
      {
        mark: { type: 'line', color: '#1e3a8a', strokeWidth: 2, point: { color: '#1e3a8a', size: 24 } },
        transform: [{ filter: 'datum.hrv !== null' }],
        encoding: {
          x: centred(x),
          y: {
            field: 'hrv',
            type: 'quantitative',
            title: 'HRV ms',
            scale: { zero: false },
            axis: { orient: 'right', titleColor: '#1e3a8a', labelColor: '#1e3a8a' },
          },
          tooltip,
        },
      },
    ],
    resolve: { scale: { y: 'independent' } },
  };
}

function isoDay(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 10);
}
