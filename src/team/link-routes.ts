// GET and POST /oauth/whoop: where a personal connect link from `/whoop connect` leads. Opening the link shows a
// button (link previews and mail scanners fetch links with GET, and must not spend the single-use ticket); its
// POST spends the ticket and starts WHOOP's OAuth for that Slack user. Without a ticket nothing starts.
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import type { FastifyPluginAsync } from 'fastify';
import { html } from '../util/html.js';
import { page, startConnect } from '../whoop/connect-routes.js';
import { connectButtonPage } from './connect-page.js';
import { TICKET_PATTERN } from './tickets.js';

const ticketQuery = {
  type: 'object',
  properties: { ticket: { type: 'string', pattern: TICKET_PATTERN } },
} as const;
const ticketBody = {
  type: 'object',
  required: ['ticket'],
  properties: { ticket: { type: 'string', pattern: TICKET_PATTERN } },
} as const;

export const linkRoutes: FastifyPluginAsync = async (app) => {
  await app.register(cookie);
  await app.register(formbody, { bodyLimit: 1024 });
  // A person connects an account a few times at most; each start writes a state row, so bound it.
  const limited = { config: { rateLimit: { max: 20, timeWindow: 60_000 } } };
  const notConfigured = html`Set WHOOP_CLIENT_ID and WHOOP_CLIENT_SECRET, restart whoop-sync, then open this page again.`;

  app.get<{ Querystring: { ticket?: string } }>('/oauth/whoop', { ...limited, schema: { querystring: ticketQuery }, attachValidation: true }, async (request, reply) => {
    if (!app.whoop.oauth) return page(reply, 503, 'WHOOP is not configured', notConfigured);
    const ticket = request.validationError ? undefined : request.query.ticket;
    if (!ticket) {
      return page(
        reply,
        403,
        'Connecting starts from a personal link',
        html`Type /whoop connect in Slack for a link that connects your own WHOOP account; the operator connects accounts from the signed-in dashboard.`,
      );
    }
    return connectButtonPage(reply, ticket, new URL(app.config.whoop.apiUrl).origin);
  });

  app.post<{ Body: { ticket: string } }>('/oauth/whoop', { ...limited, schema: { body: ticketBody }, attachValidation: true }, async (request, reply) => {
    const redeemed = request.validationError ? undefined : await app.members.tickets.redeem('connect', request.body.ticket);
    if (!redeemed) {
      request.log.warn('WHOOP connect refused: unknown, expired or already used personal link');
      return page(reply, 400, 'This link is invalid or has expired', html`Personal links work once, for 15 minutes. Ask for a new one with /whoop connect in Slack.`);
    }
    return startConnect(app, reply, redeemed.slackUserId);
  });
};
