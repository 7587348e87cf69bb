// A realistic burst: 200 /sync commands typed while a sync runs cost one more execution, not 200, and every
// one of them gets its result message.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEnvironment, type Environment } from '../support/environment.js';
import { until } from '../support/until.js';

const COMMANDS = 200;

describe('a burst of /sync commands during a sync', () => {
  let env: Environment;

  beforeAll(async () => {
    env = await startEnvironment({ days: 10 });
    expect((await env.connect()).status).toBe(200);
  });
  afterAll(async () => env?.close());

  it(`${COMMANDS} commands cost one more execution and get ${COMMANDS} results`, async () => {
    const { prisma } = env.app.app.db;
    env.whoop.resetStats();
    const release = env.whoop.hold();
    try {
      expect((await env.command('3')).status).toBe(200);
      await until(async () => (await prisma.syncRun.count({ where: { status: 'running' } })) === 1, 'the first sync');
      const acks = await Promise.all(Array.from({ length: COMMANDS }, (_, i) => env.command(String(1 + (i % 7)))));
      expect(acks.map((ack) => ack.status)).toEqual(Array(COMMANDS).fill(200));
    } finally {
      release();
    }
    await env.slack.waitForMessages(COMMANDS + 1, 60_000);
    expect(env.slack.messages.every((message) => message.text.startsWith('✅'))).toBe(true);
    const runs = await prisma.syncRun.findMany({ orderBy: { id: 'asc' } });
    expect(runs).toHaveLength(COMMANDS + 1);
    expect(runs.every((run) => run.status === 'succeeded')).toBe(true);
    // Two executions: the first, and one that served the 200 over the longest window they asked for.
    expect(new Set(runs.map((run) => run.startedAt!.getTime())).size).toBe(2);
    expect(env.whoop.stats.requests.filter((r) => r.path === '/developer/v2/cycle' && !r.query.nextToken)).toHaveLength(2);
    const joined = runs.filter((run) => run.id !== runs[0]!.id);
    expect(joined.every((run) => run.windowEnd!.getTime() - run.windowStart!.getTime() === 7 * 86_400_000)).toBe(true);
    await until(async () => (await prisma.syncRun.count({ where: { reportedAt: null } })) === 0, 'every delivery to be recorded');
    expect(env.slack.messages).toHaveLength(COMMANDS + 1);
  }, 90_000);
});
