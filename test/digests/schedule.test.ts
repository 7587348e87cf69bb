// DIGEST_DAILY and DIGEST_WEEKLY fire on their own: both set to a few seconds from now, the digest and the report
// (with its PNG chart) arrive in SLACK_DIGEST_CHANNEL without any test hook.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { BASELINE_DAYS, FLAG_RUN } from '../../src/reports/insights.js';
import { startEnvironment, type Environment } from '../support/environment.js';
import { pngSize } from '../support/png.js';

/** A six-field cron (with seconds, UTC) that fires once, `seconds` from now. */
function cronIn(seconds: number): string {
  const at = new Date(Date.now() + seconds * 1000);
  return `${at.getUTCSeconds()} ${at.getUTCMinutes()} ${at.getUTCHours()} ${at.getUTCDate()} ${at.getUTCMonth() + 1} *`;
}

describe('scheduled digests', () => {
  let env: Environment;
  // Time enough to start the app and connect the member first (the digest's own refresh then syncs the data).
  const daily = cronIn(20);
  const weekly = cronIn(22);
  beforeAll(async () => {
    env = await startEnvironment({ days: 35, env: { SLACK_DIGEST_CHANNEL: 'C0DIGEST01', DIGEST_DAILY: daily, DIGEST_WEEKLY: weekly } });
    expect((await env.connect()).status).toBe(200);
  }, 60_000);
  afterAll(async () => env?.close());

  it('posts the morning digest and the weekly report with its chart when their crons fire, syncing first', async () => {
    const [digest] = await env.slack.waitForMessages(1, 60_000);
    expect(digest!.channel).toBe('C0DIGEST01');
    expect(digest!.text).toMatch(/^\*🌅 Morning digest · /);
    expect(digest!.text).toContain('*Jo Tester*');
    expect(digest!.text).not.toContain('no data yet');
    const [report] = await env.slack.waitForUploads(1, 60_000);
    expect(report!.initialComment).toMatch(/^\*📊 Weekly report · /);
    expect(pngSize(report!.files[0]!.bytes)).toEqual({ width: 1440, height: 640 });
    const refresh = await env.app.app.db.prisma.syncRun.findFirstOrThrow({ where: { requestedBy: 'digest daily' } });
    // A fresh install holds no days yet: the refresh fetches the baselines' window first.
    expect(refresh).toMatchObject({ days: BASELINE_DAYS + FLAG_RUN + 1, trigger: 'schedule', status: 'succeeded' });
  }, 90_000);
});

describe('digest configuration', () => {
  const load = (env: Record<string, string>) => loadConfig({ LOG_LEVEL: 'silent', ...env });

  it('defaults to 08:30 daily and 09:30 on Sundays, with no digests unless a channel is set', () => {
    expect(load({}).digest).toEqual({ channel: undefined, daily: '30 8 * * *', weekly: '30 9 * * 0' });
    expect(load({ SLACK_DIGEST_CHANNEL: 'C1', DIGEST_DAILY: 'off', DIGEST_WEEKLY: 'OFF' }).digest).toEqual({ channel: 'C1', daily: null, weekly: null });
  });

  it('names the variable of an invalid cron expression', () => {
    expect(() => load({ DIGEST_DAILY: 'every morning', DIGEST_WEEKLY: '61 * * * *' })).toThrow(/DIGEST_DAILY: invalid cron expression[\s\S]*DIGEST_WEEKLY: invalid cron expression/);
  });
});
