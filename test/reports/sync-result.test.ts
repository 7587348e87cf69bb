// The /sync result message carries each account's latest values, checked against the fake WHOOP's records.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { latestValues } from '../../src/reports/daily.js';
import { latestValuesLine } from '../../src/slack/messages.js';
import { startEnvironment, type Environment } from '../support/environment.js';
import { expectedDays } from '../support/expected-days.js';

const zone = (score: number) => (Math.round(score) >= 67 ? 'green' : Math.round(score) >= 34 ? 'yellow' : 'red');
const hm = (ms: number) => {
  const minutes = Math.round(ms / 60_000);
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`;
};

describe('the /sync result', () => {
  let env: Environment;
  beforeAll(async () => {
    env = await startEnvironment({ days: 14 });
    expect((await env.connect()).status).toBe(200);
  });
  afterAll(async () => env?.close());

  it('adds a line per account with the latest recovery, HRV, resting HR, sleep and strain, as Block Kit and text', async () => {
    expect((await env.command('7')).status).toBe(200);
    const [message] = await env.slack.waitForMessages(1, 30_000);
    const [first, counts, line] = message!.text.split('\n');
    expect(first).toMatch(/^✅ Sync for <@U0ALICE001> done in /);
    expect(counts).toMatch(/^cycles \d+ · recoveries \d+ · sleeps \d+ · workouts \d+$/);

    const days = expectedDays(env.whoop.data, env.member.user_id);
    const latest = days.at(-1)!;
    const completed = days.filter((day) => day.cycleEnded).at(-1)!;
    expect(line).toContain('*Jo Tester*');
    if (latest.recovery !== undefined) {
      expect(line).toContain(`recovery ${Math.round(latest.recovery)} %`);
      expect(line).toContain(zone(latest.recovery));
      expect(line).toContain(`HRV ${Math.round(latest.hrv!)} ms`);
      expect(line).toContain(`RHR ${Math.round(latest.rhr!)} bpm`);
    } else {
      expect(line).toContain('recovery not scored yet');
    }
    if (latest.asleepMs !== undefined) expect(line).toContain(`slept ${hm(latest.asleepMs)}`);
    if (latest.performance !== undefined) expect(line).toContain(`performance ${Math.round(latest.performance)} %`);
    expect(line).toContain(`strain ${completed.strain!.toFixed(1)}`);

    // Block Kit: the same content, one section for the result and one per account.
    const blocks = message!.blocks as { type: string; text: { type: string; text: string } }[];
    expect(blocks.map((block) => block.type)).toEqual(['section', 'section']);
    expect(blocks.map((block) => block.text.text).join('\n')).toBe(message!.text);
  });

  it('says so when a record is not scored yet', async () => {
    await env.app.app.db.query(
      `UPDATE "whoop_recoveries" SET "score_state" = 'PENDING_SCORE', "recovery_score" = NULL, "hrv_rmssd_milli" = NULL, "resting_heart_rate" = NULL
       WHERE "cycle_id" = (SELECT "cycle_id" FROM "whoop_daily" ORDER BY "day" DESC LIMIT 1)`,
    );
    const [account] = await latestValues(env.app.app.db);
    expect(latestValuesLine(account!)).toContain('recovery not scored yet');
  });
});
