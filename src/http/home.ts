// GET / (and HEAD /): the public page for whoever sets the service up. It shows configuration state and
// counts only (src/http/setup-checklist.ts), never a name, a token or a health value, so it needs no sign-in.
import type { FastifyPluginAsync } from 'fastify';
import { HOME_PAGE_CSP, homePage } from './home-page.js';
import { readSetupChecklist } from './setup-checklist.js';

export const homeRoutes: FastifyPluginAsync = async (app) => {
  const { clientId, clientSecret } = app.config.whoop;
  // Connecting starts from the operator's dashboard (or /whoop connect in Slack), not from a bare /oauth/whoop.
  const connectPath = clientId && clientSecret ? '/dashboard' : undefined;
  app.get('/', async (_request, reply) => {
    const sections = await readSetupChecklist(app);
    return reply
      .header('content-type', 'text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .header('content-security-policy', HOME_PAGE_CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .send(homePage(sections, connectPath));
  });
};
