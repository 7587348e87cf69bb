// Wires the WHOOP integration from configuration: HTTP client, OAuth, token store and guard, API; and
// seeds the token store from WHOOP_REFRESH_TOKEN on first start.
import fp from 'fastify-plugin';
import type { Config } from '../config/config.js';
import { WhoopApi } from './api.js';
import { whoopBudget, type WhoopBudget } from './budget.js';
import { WhoopHttp } from './http.js';
import { WhoopOAuth } from './oauth.js';
import { seedFromEnvironment } from './seed.js';
import { TokenGuard } from './token-guard.js';
import { tokenStore, type TokenStore } from './token-store.js';

interface Whoop {
  api: WhoopApi;
  /** WHOOP's budget, shared by every process on the database. */
  budget: WhoopBudget;
  guard: TokenGuard;
  tokens: TokenStore;
  /** Undefined until WHOOP_CLIENT_ID and WHOOP_CLIENT_SECRET are configured. */
  oauth: WhoopOAuth | undefined;
  /**
   * PUBLIC_URL/dashboard: where the operator connects (or reconnects) an account; a member does it with
   * `/whoop connect` in Slack. (GET /oauth/whoop alone starts nothing: see docs/privacy.md.)
   */
  connectUrl: string;
  /** Settles once the token store was seeded from WHOOP_REFRESH_TOKEN (or there was nothing to seed). */
  seeded: Promise<void>;
  /** Aborted by `shutdown()`: cancels WHOOP requests and retry waits in progress. */
  shutdownSignal: AbortSignal;
  shutdown(): void;
}

declare module 'fastify' {
  interface FastifyInstance {
    whoop: Whoop;
  }
}

export default fp<{ config: Config }>(
  async (app, { config }) => {
    const shutdown = new AbortController();
    const log = app.log.child({ component: 'whoop' });
    const budget = whoopBudget(app.db, config.whoop.budget);
    const http = new WhoopHttp({
      apiUrl: config.whoop.apiUrl,
      metrics: app.metrics,
      log,
      budget,
      signal: shutdown.signal,
      timeoutMs: config.whoop.requestTimeoutMs,
    });
    // After the sync plugin's preClose has drained or cancelled every request.
    app.addHook('onClose', async () => http.close());
    const { clientId, clientSecret } = config.whoop;
    const oauth = clientId && clientSecret ? new WhoopOAuth(http, { clientId, clientSecret }) : undefined;
    const tokens = tokenStore(app.db, config.tokenEncryption);
    await tokens.encryptStoredTokens(log);
    const connectUrl = `${config.publicUrl}/dashboard`;
    const guard = new TokenGuard({
      db: app.db,
      tokens,
      oauth,
      maxAgeDays: config.whoop.tokenMaxAgeDays,
      connectUrl,
      metrics: app.metrics,
      log,
    });
    const api = new WhoopApi(http, guard);

    if (!oauth) log.warn('WHOOP_CLIENT_ID and WHOOP_CLIENT_SECRET are not set: accounts cannot be connected or refreshed');
    app.metrics.accountsReauthorizationRequired.set(await tokens.countReauthorizationRequired());

    let seeded: Promise<void> = Promise.resolve();
    app.addHook('onReady', async () => {
      // In the background: a slow or unreachable WHOOP must not delay start-up.
      if (config.whoop.seedRefreshToken && oauth) {
        const refreshToken = config.whoop.seedRefreshToken;
        seeded = seedFromEnvironment({ db: app.db, oauth, api, tokens, refreshToken, log }).catch((error: Error) => {
          log.error({ err: error }, `could not seed the WHOOP token store from WHOOP_REFRESH_TOKEN: ${error.message}`);
        });
      } else if (config.whoop.seedRefreshToken) {
        log.warn('WHOOP_REFRESH_TOKEN is set but WHOOP_CLIENT_ID/WHOOP_CLIENT_SECRET are not: it cannot be used');
      }
    });

    app.decorate('whoop', {
      api,
      budget,
      guard,
      tokens,
      oauth,
      connectUrl,
      get seeded() {
        return seeded;
      },
      shutdownSignal: shutdown.signal,
      shutdown: () => shutdown.abort(),
    });
  },
  { name: 'whoop', dependencies: ['database', 'metrics'] },
);
