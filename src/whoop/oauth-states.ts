// Single-use, expiring `state` values for the connect flow, kept in the database so that the callback
// may reach any replica and survive a restart. Each is bound to whoever started the flow: a browser (the hash of
// a random cookie set then) or `npm run connect` (which keeps the secret in memory), so a state presented by
// anyone else completes nothing, and does not spend the flow of the one who started it.
import { createHash, randomBytes } from 'node:crypto';
import type { Database } from '../db/database.js';

/** Long enough to log in to WHOOP and approve; short enough that a leaked link soon stops working. */
const STATE_TTL_MS = 15 * 60_000;

const hash = (value: string) => createHash('sha256').update(value).digest('hex');

export interface IssuedState {
  state: string;
  /** The secret (a cookie's value, for a browser) whoever started the flow must present to finish it. */
  browser: string;
}

export function oauthStates(db: Database) {
  const { prisma } = db;
  return {
    /** A state for a flow started by `slackUserId`'s personal link, or by the operator (null). */
    async issue(slackUserId: string | null, now = new Date()): Promise<IssuedState> {
      const state = randomBytes(32).toString('base64url');
      const browser = randomBytes(32).toString('base64url');
      await prisma.oAuthState.deleteMany({ where: { expiresAt: { lt: now } } });
      await prisma.oAuthState.create({
        data: {
          stateHash: hash(state),
          browserHash: hash(browser),
          slackUserId,
          expiresAt: new Date(now.getTime() + STATE_TTL_MS),
        },
      });
      return { state, browser };
    },

    /**
     * Spends a state this service issued, unexpired, presented with the secret of whoever started it: resolves to
     * the Slack user the flow is for (null: the operator's), or undefined for anything else.
     */
    async consume(
      state: string,
      browser: string | undefined,
      now = new Date(),
    ): Promise<{ slackUserId: string | null } | undefined> {
      if (!browser) return undefined;
      const [row] = await db.query<{ slackUserId: string | null }>(
        `DELETE FROM oauth_states WHERE state_hash = $1 AND browser_hash = $2 AND expires_at >= $3
         RETURNING slack_user_id AS "slackUserId"`,
        [hash(state), hash(browser), now],
      );
      return row;
    },
  };
}
