// Single-use, expiring `state` values for the connect flow, kept in the database so that the callback
// may reach any replica and survive a restart.
import { createHash, randomBytes } from 'node:crypto';
import type { Database } from '../db/database.js';

/** Long enough to log in to WHOOP and approve; short enough that a leaked link soon stops working. */
const STATE_TTL_MS = 15 * 60_000;

const hash = (state: string) => createHash('sha256').update(state).digest('hex');

export function oauthStates(db: Database) {
  const { prisma } = db;
  return {
    async issue(now = new Date()): Promise<string> {
      const state = randomBytes(32).toString('base64url');
      await prisma.oAuthState.deleteMany({ where: { expiresAt: { lt: now } } });
      await prisma.oAuthState.create({
        data: { stateHash: hash(state), expiresAt: new Date(now.getTime() + STATE_TTL_MS) },
      });
      return state;
    },

    /** True once for a state this service issued and that has not expired; false for anything else. */
    async consume(state: string, now = new Date()): Promise<boolean> {
      const { count } = await prisma.oAuthState.deleteMany({
        where: { stateHash: hash(state), expiresAt: { gte: now } },
      });
      return count === 1;
    },
  };
}
