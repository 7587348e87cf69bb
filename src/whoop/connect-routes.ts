// Connecting a WHOOP account: GET /oauth/whoop sends the person to WHOOP's authorize page; WHOOP sends them
// back to GET /oauth/whoop/callback with a code, which becomes a stored grant. Both answer a person in a
// browser, so both answer with a short HTML page saying what happened.
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { escapeHtml } from '../util/html.js';
import { WhoopApiError, WhoopOAuthError, WhoopResponseError } from './errors.js';
import { authorizeUrl } from './oauth.js';
import { oauthStates } from './oauth-states.js';

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
  const redirectUri = `${app.config.publicUrl}/oauth/whoop/callback`;
  const startAgain = `<a href="${escapeHtml(`${app.config.publicUrl}/oauth/whoop`)}">Start again</a>`;

  // A person connects an account a few times at most; each visit writes a state row, so bound it.
  const limited = { config: { rateLimit: { max: 20, timeWindow: 60_000 } } };

  app.get('/oauth/whoop', limited, async (_request, reply) => {
    const { clientId } = app.config.whoop;
    if (!app.whoop.oauth || !clientId) {
      return page(reply, 503, 'WHOOP is not configured', 'Set WHOOP_CLIENT_ID and WHOOP_CLIENT_SECRET, restart whoop-sync, then open this page again.');
    }
    const state = await states.issue();
    return reply.redirect(authorizeUrl(app.config.whoop.apiUrl, clientId, redirectUri, state), 302);
  });

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
        return page(reply, 400, 'Invalid connection request', `This link is malformed. ${startAgain}.`);
      }
      const { code, state, error } = request.query;
      if (!app.whoop.oauth) {
        return page(reply, 503, 'WHOOP is not configured', 'Set WHOOP_CLIENT_ID and WHOOP_CLIENT_SECRET and restart whoop-sync.');
      }
      // The state is checked (and spent) before anything else: a forged or replayed callback starts nothing.
      if (!state || !(await states.consume(state))) {
        request.log.warn('WHOOP connect callback refused: unknown, expired or already used state');
        return page(reply, 400, 'This connection link is invalid or has expired', `Links from the connect page work once, for 15 minutes. ${startAgain}.`);
      }
      if (error) {
        return page(reply, 400, 'WHOOP did not authorize the connection', `WHOOP answered: ${request.query.error_description ?? error}. ${startAgain}.`);
      }
      if (!code) return page(reply, 400, 'WHOOP sent no authorization code', startAgain);

      try {
        const obtainedAt = new Date();
        const tokens = await app.whoop.oauth.exchangeCode(code, redirectUri);
        const { profile, body } = await app.whoop.api.identify(tokens.access_token);
        await app.whoop.tokens.saveConnection(profile, body, tokens, obtainedAt);
        app.whoop.guard.forget(BigInt(profile.user_id));
        app.metrics.accountsReauthorizationRequired.set(await app.whoop.tokens.countReauthorizationRequired());
        const name = [profile.first_name, profile.last_name].filter(Boolean).join(' ') || 'WHOOP member';
        request.log.info({ userId: profile.user_id }, 'WHOOP account connected');
        const warning = tokens.refresh_token
          ? ''
          : ' Warning: WHOOP issued no refresh token (the offline scope was not granted), so access will stop after about an hour.';
        return page(reply, 200, `Connected as ${name}`, `WHOOP member ${profile.user_id} is connected. whoop-sync will keep their data in sync; you can close this page.${warning}`);
      } catch (failure) {
        request.log.error({ err: failure }, 'WHOOP connect callback failed');
        if (failure instanceof WhoopOAuthError) {
          return page(reply, 400, 'WHOOP refused the authorization code', `${failure.message}. ${startAgain}.`);
        }
        if (failure instanceof WhoopApiError || failure instanceof WhoopResponseError) {
          return page(reply, 502, 'WHOOP could not be reached', `${failure.message}. ${startAgain} in a moment.`);
        }
        throw failure;
      }
    },
  );
};

function page(reply: FastifyReply, status: number, title: string, message: string) {
  // `message` may carry text from WHOOP or the query string: everything but our own links is escaped.
  const body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>whoop-sync: ${escapeHtml(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 36rem; margin: 4rem auto; line-height: 1.5">
<h1>${status < 400 ? '✅' : '❌'} ${escapeHtml(title)}</h1><p>${escapeAllButLinks(message)}</p></body></html>`;
  return reply
    .status(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'")
    .send(body);
}

/** Escapes text but keeps the `<a href="…">` links this module builds (already escaped when built). */
function escapeAllButLinks(text: string): string {
  return text
    .split(/(<a href="[^"<>]*">[^<>]*<\/a>)/)
    .map((part, index) => (index % 2 === 1 ? part : escapeHtml(part)))
    .join('');
}
