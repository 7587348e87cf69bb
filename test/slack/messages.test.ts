import { describe, expect, it } from 'vitest';
import {
  MAX_FAILURE_LENGTH,
  ackText,
  escapeSlackText,
  failureText,
  helpText,
  notAllowedText,
  successText,
  unknownCommandText,
  type SuccessSummary,
} from '../../src/slack/messages.js';

const summary = (overrides: Partial<SuccessSummary> = {}): SuccessSummary => ({
  requestedBy: 'U123ABC',
  days: 7,
  windowStart: new Date('2026-11-18T09:15:00Z'),
  windowEnd: new Date('2026-11-25T09:15:00Z'),
  counts: {
    cycles: { upserted: 7, deleted: 0 },
    recoveries: { upserted: 7, deleted: 0 },
    sleeps: { upserted: 8, deleted: 0 },
    workouts: { upserted: 5, deleted: 0 },
  },
  accounts: 1,
  durationMs: 4_230,
  trigger: 'slack',
  ...overrides,
});

describe('ackText', () => {
  it('matches the seed\'s loading message', () => {
    expect(ackText(3)).toBe('⏳ Syncing last 3 days...');
    expect(ackText(365)).toBe('⏳ Syncing last 365 days...');
    expect(ackText(1)).toBe('⏳ Syncing last 1 day...');
  });
});

describe('successText', () => {
  it('starts with ✅ and names the requester, the window, the counts and the duration', () => {
    const text = successText(summary());
    expect(text.startsWith('✅')).toBe(true);
    expect(text).toContain('<@U123ABC>');
    expect(text).toContain('2026-11-18 → 2026-11-25');
    expect(text).toContain('last 7 days');
    expect(text).toContain('cycles 7 · recoveries 7 · sleeps 8 · workouts 5');
    expect(text).toContain('4.2 s');
    expect(text).toContain('1 account');
    expect(text).not.toContain('deleted');
    expect(text).toBe(
      '✅ Sync for <@U123ABC> done in 4.2 s: last 7 days (2026-11-18 → 2026-11-25 UTC), 1 account\n' +
        'cycles 7 · recoveries 7 · sleeps 8 · workouts 5',
    );
  });

  it('mentions deletions only when there are some', () => {
    const text = successText(
      summary({
        counts: {
          cycles: { upserted: 7, deleted: 0 },
          recoveries: { upserted: 6, deleted: 0 },
          sleeps: { upserted: 8, deleted: 2 },
          workouts: { upserted: 0, deleted: 1 },
        },
      }),
    );
    expect(text).toContain('cycles 7 · recoveries 6 · sleeps 8 (2 deleted) · workouts 0 (1 deleted)');
  });

  it('uses UTC dates whatever the local clock', () => {
    const text = successText(
      summary({ windowStart: new Date('2026-11-17T23:30:00-05:00'), windowEnd: new Date('2026-11-25T00:00:00+02:00') }),
    );
    expect(text).toContain('2026-11-18 → 2026-11-24');
  });

  it('says who asked for every trigger', () => {
    expect(successText(summary({ trigger: 'schedule', requestedBy: undefined }))).toMatch(/^✅ Scheduled sync done/);
    expect(successText(summary({ trigger: 'cli', requestedBy: undefined }))).toMatch(/^✅ Command-line sync done/);
    expect(successText(summary({ trigger: 'webhook', requestedBy: undefined }))).toMatch(/^✅ Webhook sync done/);
    expect(successText(summary({ requestedBy: undefined }))).toMatch(/^✅ Sync done/);
    expect(successText(summary({ accounts: 2, days: 1 }))).toContain('last 1 day (2026-11-18 → 2026-11-25 UTC), 2 accounts');
  });

  it('never builds a mention from something that is not a user id', () => {
    const text = successText(summary({ requestedBy: 'U1> <!channel' }));
    expect(text).not.toContain('<!channel');
    expect(text).not.toContain('<@U1>');
    expect(text).toContain('U1&gt; &lt;!channel');
  });

  it('survives nonsense numbers and dates without throwing', () => {
    const text = successText(summary({ durationMs: Number.NaN, windowStart: new Date('nope') }));
    expect(text).toContain('0.0 s');
    expect(text).toContain('unknown → 2026-11-25');
  });
});

describe('failureText', () => {
  it('starts with ❌ and carries the error message on one line', () => {
    expect(failureText('WHOOP answered 401')).toBe('❌ WHOOP answered 401');
    expect(failureText('  first line\n  second\tline  ')).toBe('❌ first line second line');
  });

  it('escapes Slack markup in the error', () => {
    expect(failureText('bad <html> & <!channel>')).toBe('❌ bad &lt;html&gt; &amp; &lt;!channel&gt;');
  });

  it('caps long messages with an ellipsis and never cuts an entity in half', () => {
    const long = failureText('x'.repeat(5000));
    expect(long.length).toBeLessThanOrEqual(MAX_FAILURE_LENGTH + 2);
    expect(long.endsWith('…')).toBe(true);
    for (let shift = 0; shift < 6; shift += 1) {
      const text = failureText('y'.repeat(MAX_FAILURE_LENGTH - 6 + shift) + '&&&&&&&&&&');
      expect(text).not.toMatch(/&[a-z]*…$/);
      expect(text.endsWith('…')).toBe(true);
    }
    const emoji = failureText('🙂'.repeat(2000));
    expect(emoji.endsWith('…')).toBe(true);
    expect(emoji).not.toMatch(/[\uD800-\uDBFF]…$/);
  });

  it('still says something when the message is empty', () => {
    expect(failureText('')).toMatch(/^❌ \S/);
    expect(failureText('   ')).toMatch(/^❌ \S/);
  });
});

describe('ephemeral texts', () => {
  it('explains /sync [days] with its default and range', () => {
    const text = helpText('/sync');
    expect(text).toContain('/sync [days]');
    expect(text).toContain('3');
    expect(text).toMatch(/1 and 365/);
  });

  it('escapes command names it did not choose', () => {
    expect(helpText('/s<y>nc')).toContain('/s&lt;y&gt;nc');
    expect(unknownCommandText('/foo&bar')).toContain('/foo&amp;bar');
    expect(unknownCommandText('/foo')).toContain('/sync [days]');
  });

  it('explains refusals', () => {
    expect(notAllowedText()).toMatch(/allowlist/);
    expect(notAllowedText('channel')).toMatch(/this channel/);
    expect(notAllowedText('user')).toMatch(/You aren't allowed/);
  });

  it('escapes exactly &, < and >', () => {
    expect(escapeSlackText('a & b < c > d "e" \'f\'')).toBe('a &amp; b &lt; c &gt; d "e" \'f\'');
    expect(escapeSlackText('&amp;')).toBe('&amp;amp;');
  });
});
