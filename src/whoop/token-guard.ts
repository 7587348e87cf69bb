// ensureTokenFresh: hands out a valid access token for an account, refreshing the grant when the access
// token is about to expire or the grant is older than TOKEN_MAX_AGE_DAYS.
//
// WHOOP refresh tokens are single-use. If two refreshes race with the same refresh token, one of them
// fails and can leave the stored grant dead, so a refresh happens under a lock shared by every process
// using the database (and, inside one process, every caller shares the same in-flight refresh). Whoever
// waited for the lock re-reads the stored pair instead of refreshing again. The new pair is stored before
// anyone uses it.
import type { FastifyBaseLogger } from 'fastify';
import type { Database } from '../db/database.js';
import type { Metrics } from '../metrics/metrics.js';
import { ReauthorizationRequiredError, WhoopOAuthError } from './errors.js';
import type { WhoopOAuth } from './oauth.js';
import { tokenLockKey, type StoredToken, type TokenStore } from './token-store.js';
import { DAY_MS } from '../util/time.js';

/** Refresh this long before the access token expires, so no request is sent with a dying token. */
const EXPIRY_MARGIN_MS = 5 * 60_000;

export interface TokenGuardOptions {
  db: Database;
  tokens: TokenStore;
  /** Undefined when WHOOP_CLIENT_ID/SECRET are not configured: refreshing is then impossible. */
  oauth: WhoopOAuth | undefined;
  maxAgeDays: number;
  /** Where a person reconnects an account: PUBLIC_URL/dashboard (or /whoop connect in Slack). */
  connectUrl: string;
  metrics: Metrics;
  log: FastifyBaseLogger;
  now?: () => Date;
}

/** What the guard remembers of a grant between requests. */
type Freshness = Pick<StoredToken, 'accessToken' | 'expiresAt' | 'obtainedAt'>;

export class TokenGuard {
  private readonly inflight = new Map<bigint, Promise<string>>();
  /**
   * The last pair this process read or obtained, so that a sync's many requests do not each read the
   * database; every sync run starts by forgetting it. If another process refreshes meanwhile, WHOOP
   * answers 401 to the old access token, and the 401 path re-reads the stored pair.
   */
  private readonly known = new Map<bigint, Freshness>();
  private readonly now: () => Date;

  constructor(private readonly options: TokenGuardOptions) {
    this.now = options.now ?? (() => new Date());
  }

  /** Drops what this process remembers of the account's grant: the next request reads the stored pair. */
  forget(userId: bigint): void {
    this.known.delete(userId);
  }

  /**
   * Returns an access token that is valid for at least a few minutes. Pass `rejected` when WHOOP
   * answered 401 to that token: it is then replaced even if it looks fresh.
   */
  async ensureTokenFresh(userId: bigint, rejected?: string): Promise<string> {
    const known = this.known.get(userId);
    if (known && !this.needsRefresh(known) && known.accessToken !== rejected) return known.accessToken;
    this.known.delete(userId);
    const token = await this.options.tokens.get(userId);
    if (!token) throw new Error(`No WHOOP token is stored for account ${userId}; connect it with /whoop connect in Slack, or from the dashboard at ${this.options.connectUrl}`);
    this.assertUsable(token);
    if (!this.needsRefresh(token) && token.accessToken !== rejected) {
      this.known.set(userId, token);
      return token.accessToken;
    }
    return this.refreshOnce(userId, rejected ?? token.accessToken);
  }

  private refreshOnce(userId: bigint, stale: string): Promise<string> {
    const running = this.inflight.get(userId);
    if (running) return running;
    const refresh = this.options.db
      .withLock(tokenLockKey(userId), () => this.refreshLocked(userId, stale))
      .finally(() => this.inflight.delete(userId));
    this.inflight.set(userId, refresh);
    return refresh;
  }

  private async refreshLocked(userId: bigint, stale: string): Promise<string> {
    const { tokens, metrics, log } = this.options;
    // Re-read under the lock: another process may have refreshed while this one waited.
    const token = await tokens.get(userId);
    if (!token) throw new Error(`No WHOOP token is stored for account ${userId}`);
    this.assertUsable(token);
    if (token.accessToken !== stale && !this.needsRefresh(token)) {
      this.known.set(userId, token);
      return token.accessToken;
    }

    if (!this.options.oauth) {
      throw new Error('WHOOP_CLIENT_ID and WHOOP_CLIENT_SECRET must be set to refresh WHOOP tokens');
    }
    if (!token.refreshToken) {
      return this.giveUp(userId, 'no refresh token is stored (the offline scope was not granted)');
    }
    let fresh;
    try {
      fresh = await this.options.oauth.refresh(token.refreshToken);
    } catch (error) {
      if (error instanceof WhoopOAuthError && error.code === 'invalid_grant') {
        metrics.tokenRefreshes.inc({ outcome: 'invalid_grant' });
        return this.giveUp(userId, 'WHOOP answered invalid_grant to a token refresh');
      }
      metrics.tokenRefreshes.inc({ outcome: 'failed' });
      throw error;
    }
    const obtainedAt = this.now();
    await this.persist(userId, fresh, obtainedAt);
    this.known.set(userId, {
      accessToken: fresh.access_token,
      obtainedAt,
      expiresAt: new Date(obtainedAt.getTime() + fresh.expires_in * 1000),
    });
    metrics.tokenRefreshes.inc({ outcome: 'succeeded' });
    log.info({ userId: userId.toString(), expiresInSeconds: fresh.expires_in }, 'WHOOP token refreshed');
    return fresh.access_token;
  }

  /** The spent refresh token is worthless now: losing the new pair would lose the grant, so insist. */
  private async persist(userId: bigint, fresh: Parameters<TokenStore['saveTokens']>[1], obtainedAt: Date): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.options.tokens.saveTokens(userId, fresh, obtainedAt);
        return;
      } catch (error) {
        if (attempt >= 5) throw error;
        this.options.log.error({ err: error, attempt }, 'could not store the refreshed WHOOP token; retrying');
        await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
      }
    }
  }

  private async giveUp(userId: bigint, reason: string): Promise<never> {
    await this.options.tokens.markReauthorizationRequired(userId, reason);
    this.options.metrics.accountsReauthorizationRequired.set(await this.options.tokens.countReauthorizationRequired());
    this.options.log.error({ userId: userId.toString(), reason }, 'WHOOP account needs to be reconnected');
    throw new ReauthorizationRequiredError(userId, this.options.connectUrl, reason);
  }

  private assertUsable(token: StoredToken): void {
    if (token.status === 'reauthorization_required') {
      throw new ReauthorizationRequiredError(token.userId, this.options.connectUrl, token.statusReason ?? undefined);
    }
  }

  private needsRefresh(token: Freshness): boolean {
    const now = this.now().getTime();
    return (
      token.expiresAt.getTime() - now < EXPIRY_MARGIN_MS ||
        now - token.obtainedAt.getTime() > this.options.maxAgeDays * DAY_MS
    );
  }
}
