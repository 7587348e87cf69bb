// Members of a team install: which Slack user a connected WHOOP account belongs to, whether its values may
// appear in channel messages, and whether it gets the digests by direct message. The owner of `members`.
// Every WHOOP account has a row: one connected before this table existed, or seeded from WHOOP_REFRESH_TOKEN,
// gets one on first read, sharing only when it is the install's first account (see docs/privacy.md).
import type { Database } from '../db/database.js';

export interface MemberSettings {
  userId: string;
  slackUserId: string | null;
  name: string;
  shares: boolean;
  digest: boolean;
}

/** Rows for accounts that have none yet: the first account of an install shares, later ones do not. */
const ENSURE = `
  INSERT INTO members (user_id, shares)
  SELECT u.user_id,
         NOT EXISTS (SELECT 1 FROM members) AND u.user_id = (SELECT user_id FROM whoop_users ORDER BY connected_at, user_id LIMIT 1)
  FROM whoop_users u
  WHERE NOT EXISTS (SELECT 1 FROM members m WHERE m.user_id = u.user_id)
  ON CONFLICT (user_id) DO NOTHING`;

const SELECT = `
  SELECT m.user_id::text AS "userId", m.slack_user_id AS "slackUserId", m.shares, m.digest,
         COALESCE(NULLIF(concat_ws(' ', u.first_name, u.last_name), ''), 'WHOOP member ' || m.user_id) AS "name"
  FROM members m JOIN whoop_users u ON u.user_id = m.user_id`;

export function members(db: Database) {
  const ensure = () => db.execute(ENSURE);
  return {
    /** Every member with their settings, in user id order. */
    async all(): Promise<MemberSettings[]> {
      await ensure();
      return db.query<MemberSettings>(`${SELECT} ORDER BY m.user_id`);
    },

    /** The user ids whose values channel messages may show. */
    async sharing(): Promise<Set<string>> {
      return new Set((await this.all()).filter((member) => member.shares).map((member) => member.userId));
    },

    /** The member a Slack user is linked to, if any. */
    async bySlackUser(slackUserId: string): Promise<MemberSettings | undefined> {
      await ensure();
      const [row] = await db.query<MemberSettings>(`${SELECT} WHERE m.slack_user_id = $1`, [slackUserId]);
      return row;
    },

    /**
     * A WHOOP account just connected (or reconnected): makes sure it has a row and, when the flow started from
     * a personal link, links it to that Slack user (who is unlinked from any other account).
     */
    async connected(userId: bigint, slackUserId: string | null): Promise<void> {
      await ensure();
      if (slackUserId === null) return;
      await db.transaction(async (session) => {
        await session.query('UPDATE members SET slack_user_id = NULL WHERE slack_user_id = $1 AND user_id <> $2::bigint', [slackUserId, userId.toString()]);
        await session.query('UPDATE members SET slack_user_id = $1 WHERE user_id = $2::bigint', [slackUserId, userId.toString()]);
      });
    },

    /** Changes what the member linked to `slackUserId` shares; false when no member is linked to them. */
    async setSharing(slackUserId: string, shares: boolean): Promise<boolean> {
      const rows = await db.query('UPDATE members SET shares = $2 WHERE slack_user_id = $1 RETURNING user_id', [slackUserId, shares]);
      return rows.length > 0;
    },

    /** Turns the member's direct-message digests on or off; false when no member is linked to them. */
    async setDigest(slackUserId: string, digest: boolean): Promise<boolean> {
      const rows = await db.query('UPDATE members SET digest = $2 WHERE slack_user_id = $1 RETURNING user_id', [slackUserId, digest]);
      return rows.length > 0;
    },

    /**
     * The operator links an account to a Slack user (or, with null, unlinks it) from the dashboard. 'taken' when
     * that Slack user is linked to another account (a Slack user has one at most: the operator clears that
     * first); otherwise the Slack user it was linked to before, so the caller can end what that person holds.
     */
    async link(userId: bigint, slackUserId: string | null): Promise<{ previous: string | null } | 'taken' | 'unknown'> {
      await ensure();
      // Two links of one Slack user at once: the unique index refuses the second, which is 'taken' as well.
      const taken = (error: unknown) => {
        if ((error as { code?: string }).code === '23505') return 'taken' as const;
        throw error;
      };
      return db.transaction(async (session) => {
        const [row] = await session.query<{ slackUserId: string | null }>(
          'SELECT slack_user_id AS "slackUserId" FROM members WHERE user_id = $1::bigint FOR UPDATE',
          [userId.toString()],
        );
        if (!row) return 'unknown' as const;
        if (slackUserId !== null) {
          const [other] = await session.query('SELECT 1 FROM members WHERE slack_user_id = $1 AND user_id <> $2::bigint', [slackUserId, userId.toString()]);
          if (other) return 'taken' as const;
        }
        await session.query('UPDATE members SET slack_user_id = $2 WHERE user_id = $1::bigint', [userId.toString(), slackUserId]);
        return { previous: row.slackUserId };
      }).catch(taken);
    },

    /** The operator unlinks an account from its Slack user (its sessions are revoked by the caller). */
    async unlink(userId: bigint): Promise<void> {
      await db.execute('UPDATE members SET slack_user_id = NULL WHERE user_id = $1::bigint', [userId.toString()]);
    },
  };
}

export type Members = ReturnType<typeof members>;
