// The dashboard's routes for members: a member signs in with a `/whoop dashboard` link (GET shows a button,
// its POST spends the single-use ticket) and creates or revokes their own MCP token; the operator connects
// accounts, links each to a Slack user, and revokes a member's access. Every form is CSRF-checked.
import type { FastifyInstance } from 'fastify';
import { TICKET_PATTERN } from '../team/tickets.js';
import { startConnect } from '../whoop/connect-routes.js';
import { formRefusedPage, linkRefusedPage, mcpTokenCreatedPage, sendPage, signInLinkPage } from './pages.js';
import { memberSession, operatorSession, signIn } from './session.js';

const ticketQuery = {
  type: 'object',
  required: ['ticket'],
  properties: { ticket: { type: 'string', pattern: TICKET_PATTERN } },
} as const;
const ticketBody = {
  type: 'object',
  required: ['ticket'],
  properties: { ticket: { type: 'string', pattern: TICKET_PATTERN }, _csrf: { type: 'string', maxLength: 256 } },
} as const;
const memberParams = {
  type: 'object',
  required: ['userId'],
  properties: { userId: { type: 'string', pattern: '^[0-9]{1,19}$' } },
} as const;

/** Slack user ids: U… for a workspace's users, W… for an Enterprise Grid's. */
const SLACK_USER = /^[UW][A-Z0-9]{2,31}$/;
const slackUserBody = {
  type: 'object',
  properties: { slack_user_id: { type: 'string', maxLength: 64 }, _csrf: { type: 'string', maxLength: 256 } },
} as const;

export function memberRoutes(app: FastifyInstance): void {
  const { sessions, tickets, settings, mcpTokens } = app.members;
  const { sessionDays } = app.config.dashboard;
  // Each attempt costs a database round trip; a person opens such a link a few times a day.
  const limited = { rateLimit: { max: 20, timeWindow: 60_000 } };

  app.get<{ Querystring: { ticket: string } }>(
    '/dashboard/sign-in',
    { config: limited, schema: { querystring: ticketQuery }, attachValidation: true },
    async (request, reply) => {
      if (request.validationError) return sendPage(reply, 400, linkRefusedPage());
      return sendPage(reply, 200, signInLinkPage(await reply.generateCsrf(), request.query.ticket));
    },
  );

  app.post<{ Body: { ticket: string } }>(
    '/dashboard/sign-in',
    { config: limited, schema: { body: ticketBody }, attachValidation: true, preHandler: app.csrfProtection },
    async (request, reply) => {
      const redeemed = request.validationError ? undefined : await tickets.redeem('sign_in', request.body.ticket);
      if (!redeemed?.userId) {
        request.log.warn('dashboard sign-in link refused: unknown, expired or already used');
        return sendPage(reply, 400, linkRefusedPage());
      }
      await signIn(request, sessions, { kind: 'member', userId: redeemed.userId }, sessionDays);
      request.log.info({ userId: redeemed.userId.toString() }, 'dashboard sign-in by a member');
      return reply.redirect('/dashboard', 303);
    },
  );

  app.post('/dashboard/connect', { preHandler: [operatorSession(sessions), app.csrfProtection] }, async (_request, reply) =>
    startConnect(app, reply, null),
  );

  app.post<{ Params: { userId: string } }>(
    '/dashboard/members/:userId/revoke',
    { schema: { params: memberParams }, preHandler: [operatorSession(sessions), app.csrfProtection] },
    async (request, reply) => {
      const userId = BigInt(request.params.userId);
      const ended = await sessions.revokeMember(userId);
      await mcpTokens.revoke(userId);
      await settings.unlink(userId);
      request.log.info({ userId: request.params.userId, sessions: ended }, 'member access revoked: sessions and MCP token ended, Slack user unlinked');
      return reply.redirect('/dashboard', 303);
    },
  );

  // Accounts connected before members existed (or from WHOOP_REFRESH_TOKEN) belong to no Slack user until
  // the operator links them here, or their person types /whoop connect.
  app.post<{ Params: { userId: string }; Body: { slack_user_id?: string } }>(
    '/dashboard/members/:userId/slack-user',
    {
      config: limited,
      schema: { params: memberParams, body: slackUserBody },
      preHandler: [operatorSession(sessions), app.csrfProtection],
    },
    async (request, reply) => {
      const userId = BigInt(request.params.userId);
      const given = (request.body.slack_user_id ?? '').trim();
      if (given !== '' && !SLACK_USER.test(given)) {
        return sendPage(reply, 400, formRefusedPage('Not a Slack user id', 'A Slack user id starts with U (or W on Enterprise Grid) followed by capital letters and digits, e.g. U0123ABCD: copy it from the person\'s Slack profile (⋮ → Copy member ID).'));
      }
      const linked = await settings.link(userId, given === '' ? null : given);
      if (linked === 'unknown') return sendPage(reply, 404, formRefusedPage('No such member', 'This WHOOP account is not connected (any more).'));
      if (linked === 'taken') {
        return sendPage(reply, 409, formRefusedPage('Slack user already linked', `${given} is linked to another WHOOP account: clear it there first (a Slack user has one account at most).`));
      }
      // Whoever the account was linked to before loses what they hold: dashboard sessions and the MCP token.
      if (linked.previous !== null && linked.previous !== given) {
        await sessions.revokeMember(userId);
        await mcpTokens.revoke(userId);
      }
      request.log.info({ userId: request.params.userId, linked: given !== '' }, given === '' ? 'member unlinked from their Slack user' : 'member linked to a Slack user');
      return reply.redirect('/dashboard', 303);
    },
  );

  app.post(
    '/dashboard/mcp-token',
    { config: limited, preHandler: [memberSession(sessions), app.csrfProtection] },
    async (request, reply) => {
      const viewer = request.viewer!;
      if (viewer.kind !== 'member' || !app.config.mcpToken) return sendPage(reply, 404, formRefusedPage('MCP is off', 'The operator has not turned the MCP server on (MCP_TOKEN).'));
      const token = await mcpTokens.create(viewer.userId);
      request.log.info({ userId: viewer.userId.toString() }, 'member MCP token created');
      return sendPage(reply, 200, mcpTokenCreatedPage(token, `${app.config.publicUrl}/mcp`));
    },
  );

  app.post(
    '/dashboard/mcp-token/revoke',
    { config: limited, preHandler: [memberSession(sessions), app.csrfProtection] },
    async (request, reply) => {
      const viewer = request.viewer!;
      if (viewer.kind === 'member' && (await mcpTokens.revoke(viewer.userId))) request.log.info({ userId: viewer.userId.toString() }, 'member MCP token revoked');
      return reply.redirect('/dashboard', 303);
    },
  );
}
