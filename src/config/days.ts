// What a sync of N days is, for every entry point (`/sync [days]`, `npm run sync -- --days N`, SYNC_SCHEDULES):
// a whole number of days, clamped into [MIN_DAYS, MAX_DAYS]. The clamp is the seed's `/sync` rule, so a typo
// never turns into an error message; the CLI and the schedules follow it rather than keeping a second rule.
// Text that is not a whole number asks for no window at all: `/sync` then uses DEFAULT_DAYS, the CLI and
// SYNC_SCHEDULES refuse it.

export const DEFAULT_DAYS = 3;
export const MIN_DAYS = 1;
export const MAX_DAYS = 365;

// ASCII digits only: without the `u` flag JavaScript's \d never matches other scripts' digits (e.g. '٧').
const INTEGER = /^[+-]?\d+$/;

/** The days `text` asks for (surrounding white space ignored), clamped; undefined unless it is a whole number. */
export function parseDays(text: string | undefined): number | undefined {
  const trimmed = (text ?? '').trim();
  if (!INTEGER.test(trimmed)) return undefined;
  // Number() of a long digit string is a huge finite value or ±Infinity, never NaN here; both clamp correctly.
  const value = Number(trimmed);
  if (value <= MIN_DAYS) return MIN_DAYS; // also catches -0 and -Infinity
  if (value >= MAX_DAYS) return MAX_DAYS;
  return value;
}
