// How fresh each member's data is and whether their account needs reconnecting: the one place that answers
// it for the MCP server's sync_status tool, with each member's whole-history backfill.
import type { Database } from '../db/database.js';
import { history, type MemberHistory } from '../sync/history.js';

interface MemberSyncStatus {
  userId: string;
  name: string;
  tokenStatus: 'active' | 'reauthorization_required' | null;
  statusReason: string | null;
  /** When the member's profile was last refreshed by a sync. */
  profileSyncedAt: string | null;
  oldestDay: string | null;
  newestDay: string | null;
  days: number;
  newestCycleStart: string | null;
  newestSleepEnd: string | null;
  newestWorkoutStart: string | null;
  lastRecordSyncedAt: string | null;
  /** The whole-history backfill (src/sync/backfill.ts); null before it started (or with WHOOP_HISTORY_SINCE=off). */
  history: Pick<MemberHistory, 'complete' | 'percent' | 'reached' | 'since' | 'requestsLeft'> | null;
}

export interface SyncStatus {
  members: MemberSyncStatus[];
  lastSuccessfulSync: string | null;
  /** The newest finished run, when it failed: what went wrong. */
  lastFailure: { finishedAt: string; error: string | null } | null;
}

const iso = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')`;

export async function syncStatus(db: Database): Promise<SyncStatus> {
  const [members, [runs], histories] = await Promise.all([
    db.query<MemberSyncStatus & { firstName: string | null; lastName: string | null }>(
      `SELECT u."user_id"::text AS "userId", u."first_name" AS "firstName", u."last_name" AS "lastName",
              t."status"::text AS "tokenStatus", t."status_reason" AS "statusReason", ${iso('u."synced_at"')} AS "profileSyncedAt",
              days."oldest" AS "oldestDay", days."newest" AS "newestDay", COALESCE(days."count", 0) AS "days",
              (SELECT ${iso('max(c."start")')} FROM "whoop_cycles" c WHERE c."user_id" = u."user_id") AS "newestCycleStart",
              (SELECT ${iso('max(s."end")')} FROM "whoop_sleeps" s WHERE s."user_id" = u."user_id") AS "newestSleepEnd",
              (SELECT ${iso('max(w."start")')} FROM "whoop_workouts" w WHERE w."user_id" = u."user_id") AS "newestWorkoutStart",
              (SELECT ${iso('max(c."synced_at")')} FROM "whoop_cycles" c WHERE c."user_id" = u."user_id") AS "lastRecordSyncedAt"
       FROM "whoop_users" u
       LEFT JOIN "whoop_tokens" t ON t."user_id" = u."user_id"
       LEFT JOIN (SELECT "user_id", min("day")::text AS "oldest", max("day")::text AS "newest", count(*)::int AS "count"
                  FROM "whoop_daily" GROUP BY "user_id") days ON days."user_id" = u."user_id"
       ORDER BY u."first_name", u."last_name", u."user_id"`,
    ),
    db.query<{ success: string | null; failedAt: string | null; error: string | null }>(
      `SELECT (SELECT ${iso('max("finished_at")')} FROM "sync_runs" WHERE "status" = 'succeeded') AS "success",
              last.at AS "failedAt", last."error"
       FROM (SELECT 1) one
       LEFT JOIN (SELECT ${iso('"finished_at"')} AS at, "status", "error" FROM "sync_runs"
                  WHERE "finished_at" IS NOT NULL ORDER BY "finished_at" DESC LIMIT 1) last ON last."status" = 'failed'`,
    ),
    history(db).summary(),
  ]);
  const progress = new Map(histories.members.map((member) => [member.userId, member]));
  return {
    members: members.map(({ firstName, lastName, ...member }) => {
      const own = progress.get(member.userId);
      return {
        ...member,
        name: [firstName, lastName].filter(Boolean).join(' ') || `WHOOP member ${member.userId}`,
        history: own
          ? {
              complete: own.complete,
              percent: own.percent,
              reached: own.reached,
              since: own.since,
              requestsLeft: own.requestsLeft,
            }
          : null,
      };
    }),
    lastSuccessfulSync: runs!.success,
    lastFailure: runs!.failedAt ? { finishedAt: runs!.failedAt, error: runs!.error } : null,
  };
}
