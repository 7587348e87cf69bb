// A flood of /sync commands behind one long sync: they all finish together, and their result messages
// must neither take every database connection at once nor hold up shutdown. At most four are in flight;
// shutdown starts no new one, and the next start delivers the rest (each once: the ones in flight at
// shutdown are finished and recorded before the database closes).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../support/app.js';
import { startEnvironment, type Environment } from '../support/environment.js';
import { until } from '../support/until.js';

const COMMANDS = 40;
// 40 posts four at a time take ten seconds: longer than shutdown waits for them (5 s).
const POST_DELAY_MS = 1_000;

describe('result messages after a flood of /sync commands', () => {
  let env: Environment;
  let restarted: RunningApp | undefined;

  beforeAll(async () => {
    env = await startEnvironment({ days: 10 });
    await env.connect();
  });
  afterAll(async () => {
    await restarted?.close();
    await env?.close();
  });

  it('go out four at a time, stop at shutdown, and are delivered once by the next start', async () => {
    const { prisma } = env.app.app.db;
    const release = env.whoop.hold();
    for (let i = 0; i < COMMANDS; i++) expect((await env.command('3')).status).toBe(200);
    // Every chat.postMessage takes a while, so that reports overlap.
    env.slack.failAlways({ delayMs: POST_DELAY_MS }, { method: 'chat.postMessage' });
    release();
    await until(async () => (await prisma.syncRun.count({ where: { status: 'succeeded' } })) === COMMANDS, 'every run to finish', 30_000);

    // Each post takes POST_DELAY_MS: the messages answered within less than that were in flight together.
    await until(() => env.slack.messages.length >= 8, 'eight result messages', 30_000);
    const times = env.slack.messages.map((message) => message.at.getTime());
    const together = Math.max(...times.map((t) => times.filter((u) => u >= t && u < t + POST_DELAY_MS * 0.9).length));
    expect(together).toBeLessThanOrEqual(4);
    expect(together).toBeGreaterThanOrEqual(2);

    // Shut down with most results still waiting: close starts no new message and ends well within
    // Fastify's 10 s limit for close hooks.
    const closeStarted = Date.now();
    await env.app.close();
    expect(Date.now() - closeStarted).toBeLessThan(9_000);
    const postedBefore = env.slack.messages.length;
    expect(postedBefore).toBeLessThan(COMMANDS);

    // The next start delivers every remaining result, and none twice.
    env.slack.failAlways(null);
    restarted = await startApp(env.config);
    await env.slack.waitForMessages(COMMANDS, 30_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(env.slack.messages).toHaveLength(COMMANDS);
    expect(env.slack.messages.every((message) => message.text.includes('✅'))).toBe(true);
    expect(await restarted.app.db.prisma.syncRun.count({ where: { reportedAt: null } })).toBe(0);
  });
});
