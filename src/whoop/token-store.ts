// Data access for connected accounts: whoop_users and whoop_tokens.
import type { Database } from '../db/database.js';
import type { Prisma } from '../generated/prisma/client.js';
import type { Body, Profile, TokenResponse } from './schemas.js';

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

export function tokenStore(db: Database) {
  const { prisma } = db;
  return {
    get: (userId: bigint) => prisma.whoopToken.findUnique({ where: { userId } }),

    isEmpty: async () => (await prisma.whoopToken.count()) === 0,

    /** Every connected account, with its grant's status. */
    accounts: () =>
      prisma.whoopToken.findMany({
        select: { userId: true, status: true, statusReason: true, user: { select: { firstName: true, lastName: true } } },
        orderBy: { userId: 'asc' },
      }),

    /** Stores a new token pair; keeps the old refresh token if WHOOP did not send a new one. */
    saveTokens: (userId: bigint, tokens: TokenResponse, obtainedAt: Date) =>
      prisma.whoopToken.update({
        where: { userId },
        data: {
          accessToken: tokens.access_token,
          ...(tokens.refresh_token ? { refreshToken: tokens.refresh_token } : {}),
          tokenType: tokens.token_type ?? 'bearer',
          scope: tokens.scope ?? null,
          expiresAt: new Date(obtainedAt.getTime() + tokens.expires_in * 1000),
          obtainedAt,
          status: 'active',
          statusReason: null,
        },
      }),

    markReauthorizationRequired: (userId: bigint, reason: string) =>
      prisma.whoopToken.update({ where: { userId }, data: { status: 'reauthorization_required', statusReason: reason } }),

    countReauthorizationRequired: () => prisma.whoopToken.count({ where: { status: 'reauthorization_required' } }),

    /** A newly connected (or reconnected) account: its profile, body measurement and first token pair. */
    saveConnection: (profile: Profile, body: Body, tokens: TokenResponse, obtainedAt: Date) => {
      const userId = BigInt(profile.user_id);
      const user = { ...profileFields(profile), ...bodyFields(body) };
      const token = {
        accessToken: tokens.access_token,
        refreshToken: tokens.refresh_token ?? null,
        tokenType: tokens.token_type ?? 'bearer',
        scope: tokens.scope ?? null,
        expiresAt: new Date(obtainedAt.getTime() + tokens.expires_in * 1000),
        obtainedAt,
        status: 'active' as const,
        statusReason: null,
      };
      return prisma.$transaction([
        prisma.whoopUser.upsert({ where: { userId }, create: { userId, ...user }, update: user }),
        prisma.whoopToken.upsert({ where: { userId }, create: { userId, ...token }, update: token }),
      ]);
    },

    saveProfile: (userId: bigint, profile: Profile, body: Body) =>
      prisma.whoopUser.update({
        where: { userId },
        data: { ...profileFields(profile), ...bodyFields(body), syncedAt: new Date() },
      }),
  };
}

export type TokenStore = ReturnType<typeof tokenStore>;
