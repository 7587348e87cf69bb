import { describe, expect, it } from 'vitest';
import { startFakeWhoop } from '../fakes/whoop-server.js';
import { startApp, testConfig } from '../support/app.js';
import { createTestDatabase } from '../support/database.js';
import { syncHarness } from '../support/sync-harness.js';

describe('WHOOP tokens during syncs', () => {
  const h = syncHarness({ days: 100, whoop: { accessTokenLifetimeSeconds: 3600 } });

  it('refreshes an expired access token once and succeeds', async () => {
    h.env.whoop.expireAccessTokens();
    const outcome = await h.sync(3);
    expect(outcome.status).toBe('succeeded');
    expect(h.env.whoop.stats.refreshes).toBe(1);
    expect(h.env.whoop.stats.invalidGrants).toBe(0);
    const token = await h.db().prisma.whoopToken.findUniqueOrThrow({ where: { userId: h.userId } });
    expect(Date.now() - token.obtainedAt.getTime()).toBeLessThan(60_000);
  });

  it('refreshes a grant older than TOKEN_MAX_AGE_DAYS even if its access token is still valid', async () => {
    await h.db().prisma.whoopToken.update({
      where: { userId: h.userId },
      data: { obtainedAt: new Date(Date.now() - 21 * 86_400_000) },
    });
    expect((await h.sync(1)).status).toBe('succeeded');
    expect(h.env.whoop.stats.refreshes).toBe(1);
  });

  it('20 concurrent syncs refresh the token exactly once', async () => {
    h.env.whoop.expireAccessTokens();
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => h.sync(2)));
    expect(outcomes.map((o) => o.status)).toEqual(Array(20).fill('succeeded'));
    expect(h.env.whoop.stats.refreshes).toBe(1);
    expect(h.env.whoop.stats.invalidGrants).toBe(0);
  });

  it('20 concurrent token requests share one refresh', async () => {
    h.env.whoop.expireAccessTokens();
    await h.db().prisma.whoopToken.update({ where: { userId: h.userId }, data: { expiresAt: new Date() } });
    h.env.app.app.whoop.guard.forget(h.userId); // as every sync run does first
    const tokens = await Promise.all(
      Array.from({ length: 20 }, () => h.env.app.app.whoop.guard.ensureTokenFresh(h.userId)),
    );
    expect(new Set(tokens).size).toBe(1);
    expect(h.env.whoop.stats.refreshes).toBe(1);
  });

  it('marks the account for re-authorization on invalid_grant and tells the person where to reconnect', async () => {
    h.env.whoop.revokeGrants();
    h.env.whoop.expireAccessTokens();
    const outcome = await h.sync(3);
    expect(outcome.status).toBe('failed');
    expect(outcome.error).toBe(
      `WHOOP authorization for account ${h.userId} has expired or was revoked (WHOOP answered invalid_grant to a token refresh). ` +
        `Reconnect it with /whoop connect in Slack, or from the dashboard at ${h.env.config.publicUrl}/dashboard`,
    );
    const token = await h.db().prisma.whoopToken.findUniqueOrThrow({ where: { userId: h.userId } });
    expect(token.status).toBe('reauthorization_required');
    expect(h.env.whoop.stats.invalidGrants).toBe(1);
    // No further refresh attempts while the grant is dead.
    expect((await h.sync(3)).error).toContain('Reconnect it with /whoop connect');
    expect(h.env.whoop.stats.invalidGrants).toBe(1);
    const gauge = (await h.env.app.app.metrics.registry.getSingleMetric('whoop_sync_accounts_reauthorization_required')!.get()).values[0]!.value;
    expect(gauge).toBe(1);
    // Reconnecting restores it.
    expect((await h.env.connect()).status).toBe(200);
    const after = await h.sync(1);
    expect(after.error).toBeUndefined();
    expect(after.status).toBe('succeeded');
  });

  it('a second app instance on the same database shares the refresh: exactly one, no invalid_grant', async () => {
    const other = await h.env.startAnotherApp();
    h.env.whoop.expireAccessTokens();
    await h.db().prisma.whoopToken.update({ where: { userId: h.userId }, data: { expiresAt: new Date() } });
    for (const app of [h.env.app.app, other.app]) app.whoop.guard.forget(h.userId);
    const tokens = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 === 0 ? h.env.app.app : other.app).whoop.guard.ensureTokenFresh(h.userId),
      ),
    );
    expect(new Set(tokens).size).toBe(1);
    const outcomes = await Promise.all([h.sync(2), other.app.sync.syncAll({ days: 2, trigger: 'cli' }), h.sync(2)]);
    expect(outcomes.map((o) => o.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect(h.env.whoop.stats.refreshes).toBe(1);
    expect(h.env.whoop.stats.invalidGrants).toBe(0);
  });
});

describe('seeding the token store from WHOOP_REFRESH_TOKEN', () => {
  it('refreshes the seed once, stores the pair and the member, and never uses it again', async () => {
    const whoop = await startFakeWhoop();
    const database = await createTestDatabase();
    try {
      const member = whoop.addMember({ first_name: 'Sam' });
      const grant = whoop.issueGrant(member.user_id);
      const env = {
        WHOOP_API_URL: whoop.url,
        WHOOP_CLIENT_ID: whoop.clientId,
        WHOOP_CLIENT_SECRET: whoop.clientSecret,
        WHOOP_REFRESH_TOKEN: grant.refresh_token,
      };
      const first = await startApp(testConfig(database, env));
      await first.app.whoop.seeded;
      const token = await first.app.db.prisma.whoopToken.findUniqueOrThrow({
        where: { userId: BigInt(member.user_id) },
        include: { user: true },
      });
      expect(token.refreshToken).not.toBe(grant.refresh_token);
      expect(token.user.firstName).toBe('Sam');
      expect(whoop.stats.refreshes).toBe(1);
      await first.close();

      const second = await startApp(testConfig(database, env));
      await second.app.whoop.seeded;
      expect(whoop.stats.refreshes).toBe(1);
      expect(whoop.stats.invalidGrants).toBe(0);
      await second.close();
    } finally {
      await whoop.close();
      await database.drop();
    }
  });
});
