import { describe, expect, it } from 'vitest';
import { DEFAULT_DAYS, MAX_DAYS, MIN_DAYS, parseDays } from '../../src/config/days.js';
import { plural } from '../../src/util/plural.js';

describe('parseDays', () => {
  it.each([
    ['', undefined],
    ['7', 7],
    ['abc', undefined],
    ['0', 1],
    ['-3', 1],
    ['999', 365],
    [' 14 ', 14],
    ['7.5', undefined],
    ['7 days', undefined],
    ['+5', 5],
    ['1', 1],
    ['365', 365],
    ['366', 365],
    ['007', 7],
    ['-0', 1],
    ['+0', 1],
    ['99999999999999999999', 365],
    ['-99999999999999999999', 1],
    ['9'.repeat(500), 365],
    ['-' + '9'.repeat(500), 1],
    ['٧', undefined],
    ['７', undefined],
    ['1e3', undefined],
    ['0x10', undefined],
    ['Infinity', undefined],
    ['NaN', undefined],
    ['--5', undefined],
    ['+-5', undefined],
    ['5-', undefined],
    ['   ', undefined],
    ['\t30\n', 30],
    ['3 0', undefined],
    ['1,000', undefined],
  ])('%j → %s', (text, expected) => {
    expect(parseDays(text)).toBe(expected);
  });

  it('asks for no window when there is no text at all; /sync then uses the default of 3 days', () => {
    expect(parseDays(undefined)).toBeUndefined();
    expect(DEFAULT_DAYS).toBe(3);
    expect([MIN_DAYS, MAX_DAYS]).toEqual([1, 365]);
  });

  it('always returns an integer in [1, 365]', () => {
    for (const text of ['0', '-1', '1', '2', '364', '365', '366', '1000000', '-1000000']) {
      const days = parseDays(text)!;
      expect(Number.isInteger(days)).toBe(true);
      expect(days).toBeGreaterThanOrEqual(1);
      expect(days).toBeLessThanOrEqual(365);
    }
  });
});

describe('plural', () => {
  it('uses the singular for one day', () => {
    expect(plural(1, 'day')).toBe('1 day');
    expect(plural(3, 'day')).toBe('3 days');
    expect(plural(365, 'day')).toBe('365 days');
    expect(plural(0, 'account')).toBe('0 accounts');
    expect(plural(2, 'entry', 'entries')).toBe('2 entries');
  });
});
