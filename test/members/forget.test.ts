// `npm run forget -- --member ID` as a person runs it: a separate process on the service's database, against
// the fake WHOOP. The member's grant is revoked at WHOOP and nothing of theirs is left; the other member stays.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FORGET_CLI_ENTRY } from '../support/compiled.js';
import type { Member } from '../fakes/whoop-server.js';
import { fakesEnv, startEnvironment, type Environment } from '../support/environment.js';
import { runCli } from '../support/server-process.js';



const runForget = (args: string[], env: Record<string, string>) => runCli(FORGET_CLI_ENTRY, args, env);

/** Every row anywhere that carries the member's id. */
async function rowsOf(env: Environment, userId: number): Promise<Record<string, number>> {
  const db = env.app.app.db;
  const tables = ['whoop_cycles', 'whoop_recoveries', 'whoop_sleeps', 'whoop_workouts', 'whoop_users', 'whoop_tokens', 'webhook_events'];
  const counts: Record<string, number> = {};
  for (const table of tables) {
    const [row] = await db.query<{ count: number }>(`SELECT count(*)::int AS count FROM ${table} WHERE user_id = $1`, [userId]);
    counts[table] = row!.count;
  }
  const [runs] = await db.query<{ count: number }>(`SELECT count(*)::int AS count FROM sync_runs WHERE error LIKE '%' || $1::text || '%'`, [userId]);
  counts.sync_runs_errors = runs!.count;
  return counts;
}

describe('npm run forget', () => {
  let env: Environment;
  let other: Member;
  let cliEnv: Record<string, string>;

  beforeAll(async () => {
    env = await startEnvironment({ days: 20 });
    other = env.whoop.addMember({ first_name: 'Stays' });
    env.whoop.generate(other.user_id, { days: 20 });
    expect((await env.connect()).status).toBe(200);
    expect((await env.connect(other)).status).toBe(200);
    expect((await env.app.app.sync.syncAll({ days: 25, trigger: 'cli', requestedBy: 'test' })).status).toBe('succeeded');
    const db = env.app.app.db;
    await db.execute(`INSERT INTO webhook_events (trace_id, user_id, type, record_id) VALUES ('trace-1', $1, 'sleep.updated', 'x')`, [env.member.user_id]);
    await db.execute(
      `INSERT INTO sync_runs (trigger, days, status, error) VALUES ('cli', 3, 'failed', $1)`,
      [`WHOOP authorization for account ${env.member.user_id} has expired or was revoked. Reconnect it with /whoop connect in Slack, or from the dashboard at http://x/dashboard`],
    );
    cliEnv = { ...env.db.env, ...fakesEnv(env.whoop) };
  }, 120_000);
  afterAll(async () => env?.close());

  it('refuses without confirmation when it cannot ask, and deletes nothing', async () => {
    const before = await rowsOf(env, env.member.user_id);
    const result = await runForget(['--member', String(env.member.user_id)], cliEnv);
    expect(result.code).toBe(2);
    expect(result.stdout).toMatch(/Jo Tester \(WHOOP member \d+\): \d+ cycles, \d+ recoveries, \d+ sleeps, \d+ workouts; profile and WHOOP grant\./);
    expect(result.stderr).toMatch(/add --yes/);
    expect(await rowsOf(env, env.member.user_id)).toEqual(before);
    expect(env.whoop.stats.requests.filter((r) => r.method === 'DELETE')).toEqual([]);
  });

  it('revokes the grant at WHOOP, leaves no row of the member, prints what it removed, and keeps the other member', async () => {
    const otherBefore = await rowsOf(env, other.user_id);
    const before = await rowsOf(env, env.member.user_id);
    expect(before.whoop_cycles).toBeGreaterThan(0);
    const stored = await env.app.app.whoop.tokens.get(BigInt(env.member.user_id));
    env.whoop.resetStats();

    const result = await runForget(['--member', String(env.member.user_id), '--yes'], cliEnv);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Removed Jo Tester (WHOOP member ${env.member.user_id}):`);
    expect(result.stdout).toContain(`records: ${before.whoop_cycles} cycles, ${before.whoop_recoveries} recoveries, ${before.whoop_sleeps} sleeps, ${before.whoop_workouts} workouts`);
    expect(result.stdout).toContain('profile, 1 stored grant, 1 webhook delivery');
    expect(result.stdout).toContain('1 sync run error naming them replaced');
    expect(result.stdout).toContain('WHOOP: access revoked');

    const revokes = env.whoop.stats.requests.filter((r) => r.method === 'DELETE');
    expect(revokes).toEqual([expect.objectContaining({ path: '/developer/v2/user/access', status: 204 })]);
    // The grant is dead at WHOOP: its access token is refused.
    const probe = await fetch(`${env.whoop.url}/developer/v2/user/profile/basic`, { headers: { authorization: `Bearer ${stored!.accessToken}` } });
    expect(probe.status).toBe(401);

    expect(await rowsOf(env, env.member.user_id)).toEqual({
      whoop_cycles: 0, whoop_recoveries: 0, whoop_sleeps: 0, whoop_workouts: 0,
      whoop_users: 0, whoop_tokens: 0, webhook_events: 0, sync_runs_errors: 0,
    });
    expect(await rowsOf(env, other.user_id)).toEqual(otherBefore);

    const again = await runForget(['--member', String(env.member.user_id), '--yes'], cliEnv);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/no connected member has the WHOOP user id/);
  });

  it('still deletes when the grant had already ended at WHOOP, and says so', async () => {
    env.whoop.revokeGrants();
    env.whoop.expireAccessTokens();
    const result = await runForget(['--member', String(other.user_id), '--yes'], cliEnv);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('WHOOP: the grant had already ended');
    const rows = await rowsOf(env, other.user_id);
    expect(Object.values(rows).every((count) => count === 0)).toBe(true);
  });
});
