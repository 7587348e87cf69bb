// Connecting a WHOOP account. It starts only from a personal link (`/whoop connect` in Slack, served by
// src/team/link-routes.ts) or from the operator's signed-in dashboard (POST /dashboard/connect); both call
// startConnect, which sets a cookie in the browser, binds the OAuth state to it and sends the person to WHOOP's
// authorize page. WHOOP sends them back to GET /oauth/whoop/callback with a code, which becomes a stored grant
// linked to the Slack user whose link started it. Both answer a person in a browser, with a short HTML page.
import cookie from '@fastify/cookie';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply } from 'fastify';
import { escapeHtml, html, type SafeHtml } from '../util/html.js';
import { WhoopApiError, WhoopOAuthError, WhoopResponseError } from './errors.js';
import { callbackUrl, connectAccount, NOT_REFRESHABLE } from './connect-account.js';
import { authorizeUrl } from './oauth.js';
import { oauthStates } from './oauth-states.js';

/** The cookie that binds a connect flow to the browser that started it. */
const BROWSER_COOKIE = 'whoop_sync_connect';

/**
 * Starts WHOOP's OAuth in this browser for `slackUserId`'s personal link, or for the operator (null). The caller
 * has checked who may start it. Needs @fastify/cookie in the caller's scope.
 */
export async function startConnect(app: FastifyInstance, reply: FastifyReply, slackUserId: string | null) {
  const { clientId } = app.config.whoop;
  if (!app.whoop.oauth || !clientId) {
    return page(reply, 503, 'WHOOP is not configured', html`Set WHOOP_CLIENT_ID and WHOOP_CLIENT_SECRET, restart whoop-sync, then open this page again.`);
  }
  const { state, browser } = await oauthStates(app.db).issue(slackUserId);
  reply.setCookie(BROWSER_COOKIE, browser, {
    path: '/oauth/whoop',
    httpOnly: true,
    // WHOOP's redirect back is a top-level GET from another site: lax cookies go with it.
    sameSite: 'lax',
    secure: app.config.publicUrl.startsWith('https:'),
    maxAge: 15 * 60,
  });
  return reply.redirect(authorizeUrl(app.config.whoop.apiUrl, clientId, callbackUrl(app.config.publicUrl), state), 303);
}

const callbackQuery = {
  type: 'object',
  properties: {
    code: { type: 'string', minLength: 1, maxLength: 2048 },
    state: { type: 'string', minLength: 1, maxLength: 512 },
    error: { type: 'string', maxLength: 256 },
    error_description: { type: 'string', maxLength: 1024 },
  },
} as const;

interface CallbackQuery {
  code?: string;
  state?: string;
  error?: string;
  error_description?: string;
}

export const connectRoutes: FastifyPluginAsync = async (app) => {
  const states = oauthStates(app.db);
  const startAgain = html`Ask for a new link with /whoop connect in Slack (the operator: from the dashboard)`;
  await app.register(cookie);

  // A person connects an account a few times at most.
  const limited = { config: { rateLimit: { max: 20, timeWindow: 60_000 } } };

  app.get<{ Querystring: CallbackQuery }>(
    '/oauth/whoop/callback',
    {
      ...limited,
      schema: { querystring: callbackQuery },
      // A malformed callback is a person's browser, not an API client: answer with a page, not JSON.
      attachValidation: true,
    },
    async (request, reply) => {
      if (request.validationError) {
        return page(reply, 400, 'Invalid connection request', html`This link is malformed. ${startAgain}.`);
      }
      const { code, state, error } = request.query;
      if (!app.whoop.oauth) {
        return page(reply, 503, 'WHOOP is not configured', html`Set WHOOP_CLIENT_ID and WHOOP_CLIENT_SECRET and restart whoop-sync.`);
      }
      // The state is checked (and spent) before anything else: a forged or replayed callback starts nothing.
      const flow = state ? await states.consume(state, request.cookies[BROWSER_COOKIE]) : undefined;
      if (!flow) {
        request.log.warn('WHOOP connect callback refused: unknown, expired or already used state, or another browser');
        return page(reply, 400, 'This connection link is invalid or has expired', html`A connection must finish in the browser that started it, within 15 minutes, once. ${startAgain}.`);
      }
      if (error) {
        return page(reply, 400, 'WHOOP did not authorize the connection', html`WHOOP answered: ${request.query.error_description ?? error}. ${startAgain}.`);
      }
      if (!code) return page(reply, 400, 'WHOOP sent no authorization code', startAgain);

      try {
        const { userId, name, refreshable } = await connectAccount(app, code);
        await app.members.settings.connected(BigInt(userId), flow.slackUserId);
        request.log.info({ userId }, 'WHOOP account connected');
        const warning = refreshable ? '' : ` Warning: ${NOT_REFRESHABLE}`;
        return page(reply, 200, `Connected as ${name}`, html`WHOOP member ${userId} is connected. whoop-sync will keep their data in sync; you can close this page.${warning}`);
      } catch (failure) {
        request.log.error({ err: failure }, 'WHOOP connect callback failed');
        if (failure instanceof WhoopOAuthError) {
          return page(reply, 400, 'WHOOP refused the authorization code', html`${failure.message}. ${startAgain}.`);
        }
        if (failure instanceof WhoopApiError || failure instanceof WhoopResponseError) {
          return page(reply, 502, 'WHOOP could not be reached', html`${failure.message}. ${startAgain} in a moment.`);
        }
        throw failure;
      }
    },
  );
};

export function page(reply: FastifyReply, status: number, title: string, message: SafeHtml) {
  // `message` is built with `html`, which escapes every value it interpolates (text from WHOOP or the query
  // string included), so only the links this module writes are markup.
  const body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>whoop-sync: ${escapeHtml(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 36rem; margin: 4rem auto; line-height: 1.5">
<h1>${status < 400 ? '✅' : '❌'} ${escapeHtml(title)}</h1><p>${message.text}</p></body></html>`;
  return reply
    .status(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'")
    .send(body);
}
