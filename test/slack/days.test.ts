import { describe, expect, it } from 'vitest';
import { describeDays, parseDays } from '../../src/slack/days.js';

describe('parseDays', () => {
  it.each([
    ['', 3],
    ['7', 7],
    ['abc', 3],
    ['0', 1],
    ['-3', 1],
    ['999', 365],
    [' 14 ', 14],
    ['7.5', 3],
    ['7 days', 3],
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
    ['٧', 3],
    ['７', 3],
    ['1e3', 3],
    ['0x10', 3],
    ['Infinity', 3],
    ['NaN', 3],
    ['--5', 3],
    ['+-5', 3],
    ['5-', 3],
    ['   ', 3],
    ['\t30\n', 30],
    ['3 0', 3],
    ['1,000', 3],
  ])('%j → %i', (text, expected) => {
    expect(parseDays(text)).toBe(expected);
  });

  it('defaults to 3 when there is no text at all', () => {
    expect(parseDays(undefined)).toBe(3);
  });

  it('always returns an integer in [1, 365]', () => {
    for (const text of ['0', '-1', '1', '2', '364', '365', '366', '1000000', '-1000000']) {
      const days = parseDays(text);
      expect(Number.isInteger(days)).toBe(true);
      expect(days).toBeGreaterThanOrEqual(1);
      expect(days).toBeLessThanOrEqual(365);
    }
  });
});

describe('describeDays', () => {
  it('uses the singular for one day', () => {
    expect(describeDays(1)).toBe('1 day');
    expect(describeDays(3)).toBe('3 days');
    expect(describeDays(365)).toBe('365 days');
  });
});
