// Single-use, expiring links handed privately to one Slack user: `/whoop connect` (start WHOOP's OAuth for them),
// `/whoop dashboard` (sign in to the dashboard as their member) and `/whoop forget` (the confirmation button).
// Owner of member_tickets. Only the SHA-256 of a ticket is stored; redeeming deletes it, so it works once.
import { createHash, randomBytes } from 'node:crypto';
import type { Database } from '../db/database.js';

export type TicketPurpose = 'connect' | 'sign_in' | 'forget';

/** How long each kind of link works: connecting includes signing in to WHOOP; the others are a click away. */
const TICKET_TTL_MS: Record<TicketPurpose, number> = {
  connect: 15 * 60_000,
  sign_in: 5 * 60_000,
  forget: 5 * 60_000,
};

export interface RedeemedTicket {
  slackUserId: string;
  /** The member the ticket was issued for (sign_in, forget); null for connect. */
  userId: bigint | null;
}

const hash = (ticket: string) => createHash('sha256').update(ticket).digest('hex');

/** Tickets are 43 base64url characters; anything else is refused before it reaches the database. */
export const TICKET_PATTERN = '^[A-Za-z0-9_-]{43}$';

export function memberTickets(db: Database) {
  return {
    async issue(purpose: TicketPurpose, slackUserId: string, userId: bigint | null, now = new Date()): Promise<string> {
      const ticket = randomBytes(32).toString('base64url');
      await db.execute('DELETE FROM member_tickets WHERE expires_at < $1', [now]);
      const expiresAt = new Date(now.getTime() + TICKET_TTL_MS[purpose]);
      await db.execute(
        'INSERT INTO member_tickets (ticket_hash, purpose, slack_user_id, user_id, expires_at) VALUES ($1, $2, $3, $4::bigint, $5)',
        [hash(ticket), purpose, slackUserId, userId?.toString() ?? null, expiresAt],
      );
      return ticket;
    },

    /** Spends a live ticket of this purpose: what it was issued for, once; undefined for anything else. */
    async redeem(purpose: TicketPurpose, ticket: string, now = new Date()): Promise<RedeemedTicket | undefined> {
      if (!new RegExp(TICKET_PATTERN).test(ticket)) return undefined;
      const [row] = await db.query<{ slackUserId: string; userId: string | null }>(
        `DELETE FROM member_tickets WHERE ticket_hash = $1 AND purpose = $2 AND expires_at >= $3
         RETURNING slack_user_id AS "slackUserId", user_id::text AS "userId"`,
        [hash(ticket), purpose, now],
      );
      return row && { slackUserId: row.slackUserId, userId: row.userId === null ? null : BigInt(row.userId) };
    },
  };
}

export type MemberTickets = ReturnType<typeof memberTickets>;
