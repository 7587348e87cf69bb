// The `/sync [days]` argument, exactly as the seed behaved: no argument or anything that is not a plain
// integer means the default window; an integer is clamped into range rather than refused, so a typo never
// turns into an error message.

const DEFAULT_DAYS = 3;
const MIN_DAYS = 1;
const MAX_DAYS = 365;

// ASCII digits only: without the `u` flag JavaScript's \d never matches other scripts' digits (e.g. '٧').
const INTEGER = /^[+-]?\d+$/;

export function parseDays(text: string | undefined): number {
  const trimmed = (text ?? '').trim();
  if (!INTEGER.test(trimmed)) return DEFAULT_DAYS;
  // Number() of a long digit string is a huge finite value or ±Infinity, never NaN here; both clamp correctly.
  const value = Number(trimmed);
  if (value <= MIN_DAYS) return MIN_DAYS; // also catches -0 and -Infinity
  if (value >= MAX_DAYS) return MAX_DAYS;
  return value;
}

/** "1 day" / "7 days". */
export function describeDays(n: number): string {
  return n === 1 ? '1 day' : `${n} days`;
}
