// Dashboard sign-in: the operator's password (DASHBOARD_PASSWORD) or a member's single-use link from
// `/whoop dashboard`. The session itself is a row in dashboard_sessions (src/team/sessions.ts): the encrypted
// cookie (@fastify/secure-session) carries its random id and the CSRF secret (@fastify/csrf-protection). Signing
// out or the operator revoking a member deletes the row, so the cookie stops working at once, in every replica.
// The cookie's key is derived from the password, so changing the password signs everyone out. See docs/dashboard.md.
import { createHash, scryptSync, timingSafeEqual } from 'node:crypto';
import cookie from '@fastify/cookie';
import csrf from '@fastify/csrf-protection';
import secureSession from '@fastify/secure-session';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config/config.js';
import type { DashboardSessions, Viewer } from '../team/sessions.js';

declare module '@fastify/secure-session' {
  interface SessionData {
    /** The id of the dashboard_sessions row; absent for a visitor who only loaded the form. */
    sid: string;
    _csrf: string;
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is signed in, once pageSession/apiSession looked it up. */
    viewer?: Viewer;
  }
}

const SESSION_COOKIE = 'whoop_sync_session';

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
    // The cookie's own timestamp is refreshed whenever the session changes; the session's row bounds the
    // sign-in itself.
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

/** Who the request's live session belongs to, if any (looked up once per request). */
export async function viewerOf(request: FastifyRequest, sessions: DashboardSessions): Promise<Viewer | undefined> {
  request.viewer ??= await sessions.viewer(request.session.get('sid'));
  return request.viewer;
}

/** Starts a new session for `viewer`: a new cookie (and CSRF secret), so one planted before is worth nothing. */
export async function signIn(
  request: FastifyRequest,
  sessions: DashboardSessions,
  viewer: Viewer,
  days: number,
): Promise<void> {
  request.session.regenerate();
  request.session.set('sid', await sessions.open(viewer, days));
}

/** Ends the request's session everywhere and clears its cookie. */
export async function signOut(request: FastifyRequest, sessions: DashboardSessions): Promise<void> {
  await sessions.close(request.session.get('sid'));
  request.session.delete();
}

/** preHandler for pages: without a sign-in, to the form. */
export function pageSession(sessions: DashboardSessions) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (!(await viewerOf(request, sessions))) return reply.redirect('/login', 302);
  };
}

/** preHandler for the JSON endpoints: without a sign-in, 401 and nothing else. */
export function apiSession(sessions: DashboardSessions) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (!(await viewerOf(request, sessions))) {
      return reply.status(401).header('cache-control', 'no-store').send({ error: 'Unauthorized', message: 'sign in at /login first' });
    }
  };
}

/** preHandler for what only the operator may do: a member's session gets 403. */
export function operatorSession(sessions: DashboardSessions) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const viewer = await viewerOf(request, sessions);
    if (!viewer) return reply.redirect('/login', 303);
    if (viewer.kind !== 'operator') return reply.status(403).header('cache-control', 'no-store').send({ error: 'Forbidden', message: 'only the operator may do this' });
  };
}

/** preHandler for what concerns a member's own data (their MCP token): the operator has none, 403. */
export function memberSession(sessions: DashboardSessions) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const viewer = await viewerOf(request, sessions);
    if (!viewer) return reply.redirect('/login', 303);
    if (viewer.kind !== 'member') return reply.status(403).header('cache-control', 'no-store').send({ error: 'Forbidden', message: 'only a member has an MCP token of their own; the operator uses MCP_TOKEN' });
  };
}
