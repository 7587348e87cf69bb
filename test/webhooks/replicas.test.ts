// Replay protection shared by replicas: two app instances on one database, and a restart. A signed Slack
// command or a WHOOP delivery accepted by one is refused (Slack) or not worked on again (WHOOP) by the other.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signedHeaders, slashCommandBody, startEnvironment, type Environment } from '../support/environment.js';
import { apiPaths, deliver, processed } from './support.js';
import { settled } from '../support/settled.js';

describe('replay protection across replicas', () => {
  let env: Environment;

  beforeAll(async () => {
    env = await startEnvironment({ days: 5 });
    expect((await env.connect()).status).toBe(200);
  });
  afterAll(async () => env?.close());

  const postCommand = (url: string, body: string, headers: Record<string, string>) => fetch(`${url}/slack/commands`, { method: 'POST', headers, body });

  it('a Slack command accepted by one replica is refused by another, and after a restart', async () => {
    const body = slashCommandBody('2');
    const headers = signedHeaders(body);
    const first = await postCommand(env.app.url, body, headers);
    expect(await first.json()).toMatchObject({ text: '⏳ Syncing last 2 days...' });
    const other = await env.startAnotherApp();
    const replayed = await postCommand(other.url, body, headers);
    expect(replayed.status).toBe(401);
    expect(await replayed.text()).toContain('replayed');
    await settled(env.app.app.db);
    await other.close();
    const restarted = await env.startAnotherApp();
    expect((await postCommand(restarted.url, body, headers)).status).toBe(401);
    await restarted.close();
    expect(await env.app.app.db.prisma.syncRun.count()).toBe(1);
  }, 60_000);

  it('a WHOOP delivery processed by one replica is not fetched again by another', async () => {
    const sleep = env.whoop.data.sleeps.find((s) => s.user_id === env.member.user_id)!;
    const event = { user_id: env.member.user_id, id: sleep.id, type: 'sleep.updated', trace_id: 'trace-shared-1' } as const;
    env.whoop.resetStats();
    expect((await deliver(env.whoop, env.app.url, event)).attempts).toEqual([200]);
    await processed(env.app.app.db);
    await settled(env.app.app.db);
    const other = await env.startAnotherApp();
    expect((await deliver(env.whoop, other.url, event)).attempts).toEqual([200]);
    await new Promise((resolve) => setTimeout(resolve, 500));
    await settled(other.app.db);
    await other.close();
    expect(apiPaths(env.whoop).filter((path) => path === `/v2/activity/sleep/${sleep.id}`)).toHaveLength(1);
    expect(await env.app.app.db.prisma.webhookEvent.count()).toBe(1);
  }, 60_000);
});
