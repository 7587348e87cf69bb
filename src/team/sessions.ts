// Dashboard sign-ins, recorded server-side (owner of dashboard_sessions): the cookie carries only a random id,
// the database says whose session it is and whether it still counts. Signing out deletes the row, revoking a
// member deletes theirs, and forgetting a member deletes them with the account, so an old cookie stops working
// at once. Only the SHA-256 of an id is stored.
import { createHash, randomBytes } from 'node:crypto';
import type { Database } from '../db/database.js';
import { DAY_MS } from '../util/time.js';

/** Who a session belongs to: the operator (DASHBOARD_PASSWORD, sees everyone) or one member (their own data). */
export type Viewer = { kind: 'operator' } | { kind: 'member'; userId: bigint };

const hash = (id: string) => createHash('sha256').update(id).digest('hex');
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

export function dashboardSessions(db: Database) {
  return {
    /** A new session; returns the id the cookie carries. */
    async open(viewer: Viewer, days: number, now = new Date()): Promise<string> {
      const id = randomBytes(32).toString('base64url');
      await db.execute('DELETE FROM dashboard_sessions WHERE expires_at < $1', [now]);
      await db.execute('INSERT INTO dashboard_sessions (session_hash, user_id, expires_at) VALUES ($1, $2::bigint, $3)', [
        hash(id),
        viewer.kind === 'member' ? viewer.userId.toString() : null,
        new Date(now.getTime() + days * DAY_MS),
      ]);
      return id;
    },

    /** Whose live session `id` is; undefined when it was signed out, revoked, expired or never existed. */
    async viewer(id: unknown, now = new Date()): Promise<Viewer | undefined> {
      if (typeof id !== 'string' || !SESSION_ID.test(id)) return undefined;
      const [row] = await db.query<{ userId: string | null }>(
        'SELECT user_id::text AS "userId" FROM dashboard_sessions WHERE session_hash = $1 AND expires_at > $2',
        [hash(id), now],
      );
      if (!row) return undefined;
      return row.userId === null ? { kind: 'operator' } : { kind: 'member', userId: BigInt(row.userId) };
    },

    async close(id: unknown): Promise<void> {
      if (typeof id === 'string' && SESSION_ID.test(id)) await db.execute('DELETE FROM dashboard_sessions WHERE session_hash = $1', [hash(id)]);
    },

    /** Ends every session of a member at once (the operator revoked them). */
    async revokeMember(userId: bigint): Promise<number> {
      return db.execute('DELETE FROM dashboard_sessions WHERE user_id = $1::bigint', [userId.toString()]);
    },
  };
}

export type DashboardSessions = ReturnType<typeof dashboardSessions>;
