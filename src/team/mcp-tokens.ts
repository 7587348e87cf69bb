// Members' own MCP tokens (owner of member_mcp_tokens): a member creates one on their dashboard and an MCP client
// holding it sees that member's data only; MCP_TOKEN stays the operator's and sees everyone. One token per
// member (creating another replaces it). Only the SHA-256 is stored, so the token is shown once, when created,
// and a leaked database gives no usable token. Looking a token up by its hash compares no secret byte by byte.
import { createHash, randomBytes } from 'node:crypto';
import type { Database } from '../db/database.js';

/** The prefix tells a member token from MCP_TOKEN at a glance (and in a secret scanner). */
const PREFIX = 'wsm_';
const TOKEN = /^wsm_[A-Za-z0-9_-]{43}$/;

const hash = (token: string) => createHash('sha256').update(token).digest('hex');

/** Whether `token` has a member token's shape: anything else is refused without a database read. */
export const isMemberTokenShaped = (token: string) => TOKEN.test(token);

export function memberMcpTokens(db: Database) {
  return {
    /** A new token for the member, replacing theirs if any: returned once, never stored. */
    async create(userId: bigint): Promise<string> {
      const token = `${PREFIX}${randomBytes(32).toString('base64url')}`;
      await db.execute(
        `INSERT INTO member_mcp_tokens (user_id, token_hash) VALUES ($1::bigint, $2)
         ON CONFLICT (user_id) DO UPDATE SET token_hash = EXCLUDED.token_hash, created_at = CURRENT_TIMESTAMP`,
        [userId.toString(), hash(token)],
      );
      return token;
    },

    /** Deletes the member's token; false when they had none. */
    async revoke(userId: bigint): Promise<boolean> {
      return (await db.execute('DELETE FROM member_mcp_tokens WHERE user_id = $1::bigint', [userId.toString()])) > 0;
    },

    /** When the member's token was created; undefined when they have none. */
    async createdAt(userId: bigint): Promise<Date | undefined> {
      const [row] = await db.query<{ createdAt: Date }>('SELECT created_at AS "createdAt" FROM member_mcp_tokens WHERE user_id = $1::bigint', [userId.toString()]);
      return row?.createdAt;
    },

    /** The member a token belongs to; undefined for a revoked, replaced or unknown one. */
    async member(token: string): Promise<bigint | undefined> {
      if (!isMemberTokenShaped(token)) return undefined;
      const [row] = await db.query<{ userId: string }>('SELECT user_id::text AS "userId" FROM member_mcp_tokens WHERE token_hash = $1', [hash(token)]);
      return row ? BigInt(row.userId) : undefined;
    },
  };
}

export type MemberMcpTokens = ReturnType<typeof memberMcpTokens>;
