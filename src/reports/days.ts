// Calendar arithmetic on local dates written `YYYY-MM-DD`, done in UTC so no timezone can shift a day.
import { DAY_MS } from '../util/time.js';

export function addDays(day: string, days: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

/**
 * Whether `value` is a date a person can ask about, written `YYYY-MM-DD`: a day of the calendar from 1900 to
 * 9999. Periods reach back up to twenty years from it (a ten-year period and the one before it), which keeps
 * them within four-digit years: JavaScript's ISO strings change form outside them, and PostgreSQL has no year 0.
 */
export function isDay(value: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || value < '1900-01-01') return false;
  const time = Date.parse(`${value}T00:00:00Z`);
  return !Number.isNaN(time) && new Date(time).toISOString().startsWith(value);
}

/** The local date of `at` in an IANA time zone. */
export function localDay(at: Date, timezone: string): string {
  // en-CA writes dates as YYYY-MM-DD.
  return new Intl.DateTimeFormat('en-CA', { timeZone: timezone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(at);
}
