// Dashboard sign-in: one shared password (DASHBOARD_PASSWORD), a stateless encrypted session cookie
// (@fastify/secure-session) and CSRF tokens kept in that session (@fastify/csrf-protection).
// The cookie's key is derived from the password, so every replica configured alike accepts the same cookies
// and a restart signs nobody out; changing the password signs everyone out. See docs/dashboard.md.
import { createHash, scryptSync, timingSafeEqual } from 'node:crypto';
import cookie from '@fastify/cookie';
import csrf from '@fastify/csrf-protection';
import secureSession from '@fastify/secure-session';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config/config.js';

declare module '@fastify/secure-session' {
  interface SessionData {
    /** When the person signed in (ms since the epoch); absent for a visitor who only loaded the form. */
    signedInAt: number;
    _csrf: string;
  }
}

const SESSION_COOKIE = 'whoop_sync_session';
const DAY_MS = 86_400_000;

/**
 * The 256-bit key of the session cookies: scrypt of the password, peppered with TOKEN_ENCRYPTION_KEY when
 * one is set (a secret of the server's that a stolen cookie does not reveal). scrypt makes guessing the
 * password from a captured cookie as slow as it is to derive.
 */
export function sessionKey(password: string, pepper: Buffer | undefined): Buffer {
  const salt = Buffer.concat([Buffer.from('whoop-sync dashboard session v1'), pepper ?? Buffer.alloc(0)]);
  return scryptSync(password, salt, 32, { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Compares in constant time: both sides are hashed to equal lengths first. */
export function passwordMatches(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/** Registers cookies, sessions and CSRF protection in the (encapsulated) dashboard context. */
export async function registerSessions(app: FastifyInstance, config: Config, password: string): Promise<void> {
  const maxAgeSeconds = config.dashboard.sessionDays * 86_400;
  await app.register(cookie);
  await app.register(secureSession, {
    key: sessionKey(password, config.tokenEncryption.key),
    cookieName: SESSION_COOKIE,
    // The cookie's own timestamp is refreshed whenever the session changes; signedIn() below also bounds
    // the sign-in itself.
    expiry: maxAgeSeconds,
    cookie: {
      path: '/',
      httpOnly: true,
      sameSite: 'lax',
      secure: config.publicUrl.startsWith('https:'),
      maxAge: maxAgeSeconds,
    },
  });
  await app.register(csrf, { sessionPlugin: '@fastify/secure-session' });
}

/** Whether the request carries a sign-in that has not yet expired. */
export function signedIn(request: FastifyRequest, sessionDays: number, now = Date.now()): boolean {
  const at = request.session.get('signedInAt');
  return typeof at === 'number' && at <= now && now - at < sessionDays * DAY_MS;
}

/** preHandler for pages: without a sign-in, to the form. */
export function pageSession(sessionDays: number) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (!signedIn(request, sessionDays)) return reply.redirect('/login', 302);
  };
}

/** preHandler for the JSON endpoints: without a sign-in, 401 and nothing else. */
export function apiSession(sessionDays: number) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (!signedIn(request, sessionDays)) {
      return reply.status(401).header('cache-control', 'no-store').send({ error: 'Unauthorized', message: 'sign in at /login first' });
    }
  };
}
