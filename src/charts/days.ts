// The day axis every chart shares (the dashboard's and the weekly report's): the same field, time unit,
// scale and date format, so the charts of one page cover the same days and line up with each other.
// A day is a local date without a time: drawn and labelled in UTC so no time zone shifts it.
import { DAY_MS } from '../util/time.js';

/** The one date format of the charts and the dashboard: ISO dates, as whoop_daily and the digests write them. */
const DAY_FORMAT = '%Y-%m-%d';

/** The day after `day` (YYYY-MM-DD). */
function nextDay(day: string): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + DAY_MS).toISOString().slice(0, 10);
}

/**
 * The x encoding of a chart of the days `firstDay` to `lastDay` (inclusive). The domain is the range asked
 * for, not the data present: a chart whose last days have no value still ends on the same day as the
 * others. It ends the day after `lastDay`, so the last day's bar has its whole band.
 */
export function dayAxis(firstDay: string, lastDay: string) {
  return {
    field: 'day',
    type: 'temporal' as const,
    timeUnit: 'utcyearmonthdate' as const,
    title: null,
    scale: { domain: [firstDay, nextDay(lastDay)] },
    axis: { format: DAY_FORMAT, labelOverlap: true },
  };
}

/**
 * The same axis for points and lines: bars fill their day's band, so a point drawn at the band's start would
 * sit half a day to the left of its bar; at 0.5 it sits over the bar's middle.
 */
export function centred<X extends ReturnType<typeof dayAxis>>(x: X): X & { bandPosition: number } {
  return { ...x, bandPosition: 0.5 };
}

export const dayTooltip = { field: 'day', type: 'temporal', timeUnit: 'utcyearmonthdate', title: 'Day', format: DAY_FORMAT } as const;
