// First start with WHOOP_REFRESH_TOKEN: turn it into a stored grant. The token is refreshed right away,
// so the stored pair is one this service owns and the account's user id is known. Under a lock, so two
// replicas starting together do not both spend the same single-use token.
import type { FastifyBaseLogger } from 'fastify';
import type { Database } from '../db/database.js';
import type { WhoopApi } from './api.js';
import type { WhoopOAuth } from './oauth.js';
import type { TokenStore } from './token-store.js';

const SEED_LOCK_KEY = 0x77686f6f70736565n;

export async function seedFromEnvironment(deps: {
  db: Database;
  oauth: WhoopOAuth;
  api: WhoopApi;
  tokens: TokenStore;
  refreshToken: string;
  log: FastifyBaseLogger;
}): Promise<void> {
  await deps.db.withLock(SEED_LOCK_KEY, async () => {
    if (!(await deps.tokens.isEmpty())) {
      deps.log.debug('token store already holds a grant; WHOOP_REFRESH_TOKEN is not used');
      return;
    }
    const obtainedAt = new Date();
    const tokens = await deps.oauth.refresh(deps.refreshToken);
    const { profile, body } = await deps.api.identify(tokens.access_token);
    await deps.tokens.saveConnection(profile, body, tokens, obtainedAt);
    deps.log.info({ userId: profile.user_id }, 'seeded the WHOOP token store from WHOOP_REFRESH_TOKEN (it has now been used and rotated)');
  });
}
