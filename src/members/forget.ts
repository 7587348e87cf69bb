// A member leaves: whoop-sync ends its grant at WHOOP and deletes everything it holds about them — records,
// profile and tokens, webhook deliveries, and run errors that name them. One function, for the CLI
// (`npm run forget`) and any later entry point (a Slack command).
import type { Database } from '../db/database.js';
import { RESOURCES, type Resource } from '../sync/collections.js';
import { STEP_LOCK_KEY } from '../sync/worker.js';
import { RESOURCE_SPECS, deleteAccountRecords } from '../sync/resources.js';
import { redactAccountErrors } from '../sync/runs.js';
import { forgetAccountEvents } from '../webhooks/events.js';
import type { WhoopApi } from '../whoop/api.js';
import { deleteAccount } from '../whoop/token-store.js';

export interface MemberData {
  userId: string;
  name: string;
  records: Record<Resource, number>;
  hasToken: boolean;
}

export interface Forgotten extends MemberData {
  /** revoked: WHOOP ended the grant; already: WHOOP had ended it before; failed: WHOOP could not be asked (why). */
  revoke: { outcome: 'revoked' | 'already' | 'no_token' } | { outcome: 'failed'; error: string };
  webhookEvents: number;
  runErrorsRedacted: number;
  tokens: number;
}

/** What whoop-sync holds about a member, for the confirmation; undefined when it holds no such member. */
export async function memberData(db: Database, userId: bigint): Promise<MemberData | undefined> {
  const [row] = await db.query<{ name: string | null; hasToken: boolean } & Record<Resource, number>>(
    `SELECT NULLIF(concat_ws(' ', u."first_name", u."last_name"), '') AS name,
            EXISTS (SELECT 1 FROM "whoop_tokens" t WHERE t."user_id" = u."user_id") AS "hasToken",
            ${RESOURCES.map((name) => `(SELECT count(*)::int FROM "${RESOURCE_SPECS[name].table}" r WHERE r."user_id" = u."user_id") AS "${name}"`).join(', ')}
     FROM "whoop_users" u WHERE u."user_id" = $1::bigint`,
    [userId.toString()],
  );
  if (!row) return undefined;
  return {
    userId: userId.toString(),
    name: row.name ?? `WHOOP member ${userId}`,
    records: Object.fromEntries(RESOURCES.map((name) => [name, row[name]])) as Record<Resource, number>,
    hasToken: row.hasToken,
  };
}

/**
 * Revokes the member's grant at WHOOP, then deletes what whoop-sync holds about them in one transaction.
 * Both happen under the sync lock, so no sync or webhook writes their records back meanwhile. A revocation
 * WHOOP could not be asked for does not stop the deletion; the result says so.
 */
export async function forgetMember(
  deps: { db: Database; api: WhoopApi },
  userId: bigint,
): Promise<Forgotten | undefined> {
  const { db, api } = deps;
  return db.withLock(STEP_LOCK_KEY, async () => {
    const data = await memberData(db, userId);
    if (!data) return undefined;
    let revoke: Forgotten['revoke'] = { outcome: 'no_token' };
    if (data.hasToken) {
      try {
        revoke = { outcome: (await api.revokeAccess(userId)) ? 'revoked' : 'already' };
      } catch (error) {
        revoke = { outcome: 'failed', error: (error as Error).message };
      }
    }
    return db.transaction(async (session) => {
      const records = {} as Record<Resource, number>;
      for (const name of RESOURCES) records[name] = await deleteAccountRecords(session, RESOURCE_SPECS[name], userId);
      const webhookEvents = await forgetAccountEvents(session, userId);
      const runErrorsRedacted = await redactAccountErrors(session, userId);
      const { tokens } = await deleteAccount(session, userId);
      return { ...data, records, revoke, webhookEvents, runErrorsRedacted, tokens };
    });
  });
}
