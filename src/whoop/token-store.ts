// Data access for connected accounts: whoop_users and whoop_tokens. The only module that reads or writes
// the token columns: with TOKEN_ENCRYPTION_KEY set it encrypts them on every write (src/whoop/token-crypto.ts)
// and decrypts them on every read, so callers only ever see the tokens themselves.
import { createHash } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { Database, SqlSession } from '../db/database.js';
import type { Prisma } from '../generated/prisma/client.js';
import type { Body, Profile, TokenResponse } from './schemas.js';
import { encryptedKeyId, isEncrypted, TokenCipher, TokenDecryptionError, type TokenColumn, type TokenEncryptionKeys } from './token-crypto.js';

/**
 * A stable advisory-lock key per WHOOP account: held while its grant is refreshed (token-guard.ts) or its
 * stored tokens are re-encrypted, so neither overwrites the other.
 */
export function tokenLockKey(userId: bigint): bigint {
  return createHash('sha256').update(`whoop-sync:token:${userId}`).digest().readBigInt64BE(0);
}

export type StoredToken = NonNullable<Awaited<ReturnType<Database['prisma']['whoopToken']['findUnique']>>>;

/** The raw WHOOP JSON, stored as received (it is plain JSON: it came from JSON.parse). */
const json = (value: object) => value as Prisma.InputJsonObject;

function profileFields(profile: Profile) {
  return {
    email: profile.email ?? null,
    firstName: profile.first_name ?? null,
    lastName: profile.last_name ?? null,
    profileRaw: json(profile),
  };
}

function bodyFields(body: Body) {
  return {
    heightMeter: body.height_meter ?? null,
    weightKilogram: body.weight_kilogram ?? null,
    maxHeartRate: body.max_heart_rate ?? null,
    bodyRaw: json(body),
  };
}

/** Without keys: tokens are stored as they are (and values encrypted earlier cannot be read). */
const NO_ENCRYPTION: TokenEncryptionKeys = { previousKeys: [] };

export function tokenStore(db: Database, encryption: TokenEncryptionKeys = NO_ENCRYPTION) {
  const { prisma } = db;
  const cipher = new TokenCipher(encryption);

  /** A row as read from the database, with its tokens decrypted. */
  function open<T extends { userId: bigint; accessToken: string; refreshToken: string | null }>(row: T): T {
    return {
      ...row,
      accessToken: cipher.decrypt(row.accessToken, row.userId, 'access_token'),
      refreshToken: row.refreshToken === null ? null : cipher.decrypt(row.refreshToken, row.userId, 'refresh_token'),
    };
  }

  return {
    /** The account's grant, tokens decrypted. Throws a TokenDecryptionError when a token cannot be decrypted. */
    get: async (userId: bigint) => {
      const row = await prisma.whoopToken.findUnique({ where: { userId } });
      return row && open(row);
    },

    isEmpty: async () => (await prisma.whoopToken.count()) === 0,

    /** Every connected account, with its grant's status. */
    accounts: () =>
      prisma.whoopToken.findMany({
        select: {
          userId: true,
          status: true,
          statusReason: true,
          user: { select: { firstName: true, lastName: true } },
        },
        orderBy: { userId: 'asc' },
      }),

    /**
     * Stores a new token pair; keeps the old refresh token if WHOOP did not send a new one. Resolves to
     * nothing: the stored row holds the encrypted values, which are no use to a caller.
     */
    saveTokens: async (userId: bigint, tokens: TokenResponse, obtainedAt: Date): Promise<void> => {
      await prisma.whoopToken.update({
        where: { userId },
        data: {
          accessToken: cipher.seal(tokens.access_token, userId, 'access_token'),
          ...(tokens.refresh_token ? { refreshToken: cipher.seal(tokens.refresh_token, userId, 'refresh_token') } : {}),
          tokenType: tokens.token_type ?? 'bearer',
          scope: tokens.scope ?? null,
          expiresAt: new Date(obtainedAt.getTime() + tokens.expires_in * 1000),
          obtainedAt,
          status: 'active',
          statusReason: null,
        },
      });
    },

    markReauthorizationRequired: (userId: bigint, reason: string) =>
      prisma.whoopToken.update({ where: { userId }, data: { status: 'reauthorization_required', statusReason: reason } }),

    countReauthorizationRequired: () => prisma.whoopToken.count({ where: { status: 'reauthorization_required' } }),

    /** A newly connected (or reconnected) account: its profile, body measurement and first token pair. */
    saveConnection: async (profile: Profile, body: Body, tokens: TokenResponse, obtainedAt: Date): Promise<void> => {
      const userId = BigInt(profile.user_id);
      const user = { ...profileFields(profile), ...bodyFields(body) };
      const token = {
        accessToken: cipher.seal(tokens.access_token, userId, 'access_token'),
        refreshToken: tokens.refresh_token ? cipher.seal(tokens.refresh_token, userId, 'refresh_token') : null,
        tokenType: tokens.token_type ?? 'bearer',
        scope: tokens.scope ?? null,
        expiresAt: new Date(obtainedAt.getTime() + tokens.expires_in * 1000),
        obtainedAt,
        status: 'active' as const,
        statusReason: null,
      };
      await prisma.$transaction([
        prisma.whoopUser.upsert({ where: { userId }, create: { userId, ...user }, update: user }),
        prisma.whoopToken.upsert({ where: { userId }, create: { userId, ...token }, update: token }),
      ]);
    },

    saveProfile: (userId: bigint, profile: Profile, body: Body) =>
      prisma.whoopUser.update({
        where: { userId },
        data: { ...profileFields(profile), ...bodyFields(body), syncedAt: new Date() },
      }),

    /**
     * Start-up, with TOKEN_ENCRYPTION_KEY set: encrypts the tokens still stored as plaintext and re-encrypts
     * those under a previous key, so that afterwards every row uses the current key. All rows change in one
     * transaction; each row under its account's refresh lock (the advisory lock of token-guard.ts) and a row
     * lock, so a refresh running in another replica is never overwritten with the pair it replaced.
     * Values it cannot decrypt (a key that is not configured, or altered) are left alone and reported.
     * Without a key it only reports encrypted values, which are unreadable then. Never throws: a failure
     * is logged and leaves every row as it was (still readable), to be retried at the next start.
     */
    encryptStoredTokens: async (log: FastifyBaseLogger): Promise<EncryptionMigration> => {
      const result: EncryptionMigration = { encrypted: 0, reencrypted: 0, unreadable: [] };
      try {
        const rows = await prisma.whoopToken.findMany({
          select: { userId: true, accessToken: true, refreshToken: true },
          orderBy: { userId: 'asc' },
        });
        if (!cipher.enabled) {
          const encrypted = rows.flatMap((row) =>
            storedValues(row)
              .filter(([, value]) => isEncrypted(value))
              .map(([column, value]) => ({ userId: row.userId, column, value })),
          );
          if (encrypted.length > 0) {
            result.unreadable = encrypted.map(
              ({ userId, column, value }) => cipher.problemWith(value, userId, column)!,
            );
            const accounts = [...new Set(encrypted.map(({ userId }) => userId.toString()))];
            const keyIds = [...new Set(encrypted.map(({ value }) => encryptedKeyId(value) ?? '?'))];
            log.error(
              { accounts, keyIds },
              `${encrypted.length} stored WHOOP token(s) are encrypted, but TOKEN_ENCRYPTION_KEY is not set: syncs of those accounts fail ` +
                'until it is set again (or the accounts are reconnected)',
            );
          }
          return result;
        }
        const pending = rows.filter((row) =>
          storedValues(row).some(([, value]) => cipher.state(value) === 'plaintext' || cipher.state(value) === 'previous'),
        );
        for (const row of rows) {
          if (pending.includes(row)) continue; // checked again below, under the lock
          for (const [column, value] of storedValues(row)) {
            if (cipher.state(value) === 'unknown-key') result.unreadable.push(cipher.problemWith(value, row.userId, column)!);
          }
        }
        if (pending.length > 0) {
          const done = await db.transaction(async (session) => {
            const counts: EncryptionMigration = { encrypted: 0, reencrypted: 0, unreadable: [] };
            for (const { userId } of pending) {
              // Ascending user ids: two replicas migrating at once take the locks in the same order.
              await session.query('SELECT pg_advisory_xact_lock($1::bigint)', [tokenLockKey(userId).toString()]);
              const [current] = await session.query<{ access_token: string; refresh_token: string | null }>(
                'SELECT access_token, refresh_token FROM whoop_tokens WHERE user_id = $1::bigint FOR UPDATE',
                [userId.toString()],
              );
              if (!current) continue; // deleted meanwhile
              const next = { ...current };
              for (const column of COLUMNS) {
                const value = current[column];
                if (value === null) continue;
                const state = cipher.state(value);
                if (state === 'plaintext') {
                  next[column] = cipher.encrypt(value, userId, column);
                  counts.encrypted++;
                } else if (state === 'previous' || state === 'unknown-key') {
                  try {
                    next[column] = cipher.encrypt(cipher.decrypt(value, userId, column), userId, column);
                    counts.reencrypted++;
                  } catch (error) {
                    if (!(error instanceof TokenDecryptionError)) throw error;
                    counts.unreadable.push(error.message);
                  }
                }
              }
              if (next.access_token !== current.access_token || next.refresh_token !== current.refresh_token) {
                await session.query(
                  'UPDATE whoop_tokens SET access_token = $2, refresh_token = $3, updated_at = now() WHERE user_id = $1::bigint',
                  [userId.toString(), next.access_token, next.refresh_token],
                );
              }
            }
            return counts;
          });
          result.encrypted = done.encrypted;
          result.reencrypted = done.reencrypted;
          result.unreadable.push(...done.unreadable);
        }
        if (result.encrypted > 0) log.info({ keyId: cipher.currentKeyId }, `encrypted ${result.encrypted} stored WHOOP token(s)`);
        if (result.reencrypted > 0) log.info({ keyId: cipher.currentKeyId }, `re-encrypted ${result.reencrypted} token(s) with the current key`);
        if (result.unreadable.length > 0) {
          log.error(
            { problems: result.unreadable },
            `${result.unreadable.length} stored WHOOP token(s) cannot be decrypted with the configured keys: syncs of those accounts fail ` +
              'until the missing key is added to TOKEN_ENCRYPTION_PREVIOUS_KEYS (or the accounts are reconnected)',
          );
        }
        log.info({ keyId: cipher.currentKeyId }, 'stored WHOOP tokens are encrypted at rest (TOKEN_ENCRYPTION_KEY)');
      } catch (error) {
        log.error(
          { err: error },
          `could not encrypt the stored WHOOP tokens: ${(error as Error).message}. Nothing was changed; the next start tries again`,
        );
      }
      return result;
    },
  };
}

export interface EncryptionMigration {
  /** Token values that were plaintext and are now encrypted. */
  encrypted: number;
  /** Token values moved from a previous key to the current one. */
  reencrypted: number;
  /** Why some values cannot be read with the configured keys (one message each). */
  unreadable: string[];
}

const COLUMNS = ['access_token', 'refresh_token'] as const satisfies readonly TokenColumn[];

function storedValues(row: { accessToken: string; refreshToken: string | null }): [TokenColumn, string][] {
  return [
    ['access_token', row.accessToken],
    ...(row.refreshToken === null ? [] : [['refresh_token', row.refreshToken] as [TokenColumn, string]]),
  ];
}

export type TokenStore = ReturnType<typeof tokenStore>;

/** Deletes an account's profile and its grant (the account leaves: see src/members/forget.ts). */
export async function deleteAccount(
  session: SqlSession,
  userId: bigint,
): Promise<{ profile: boolean; tokens: number }> {
  const gone = async (table: string) =>
    (await session.query<{ count: number }>(
      `WITH gone AS (DELETE FROM ${table} WHERE user_id = $1::bigint RETURNING 1) SELECT count(*)::int AS count FROM gone`,
      [userId.toString()],
    ))[0]!.count;
  const tokens = await gone('whoop_tokens');
  return { profile: (await gone('whoop_users')) > 0, tokens };
}
