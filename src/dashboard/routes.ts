// GET /dashboard, GET/POST /login, POST /logout and the dashboard's JSON endpoints and scripts.
// Without DASHBOARD_PASSWORD only GET /dashboard exists (it says how to enable the dashboard); everything
// else is not registered, so it answers 404.
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import formbody from '@fastify/formbody';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { dashboardCharts, zoneName } from '../charts/dashboard.js';
import { exportRoutes } from '../export/routes.js';
import { statusSummary } from '../http/status.js';
import { dailyPoints, RANGES, rangeDays, type Range } from './daily.js';
import { dashboardPage, disabledPage, loginPage, mcpTokenSection, memberLinksSection, sendPage } from './pages.js';
import { RECOVERY_ZONES, recoveryZone } from '../whoop/recovery-zone.js';
import { memberRoutes } from './member-routes.js';
import { apiSession, pageSession, passwordMatches, registerSessions, signIn, signOut, viewerOf } from './session.js';

const ASSETS = '/dashboard/assets/';
const require = createRequire(import.meta.url);
// The chart libraries' browser builds, served from node_modules: the page makes no external request.
const VENDOR = [
  { file: 'vega.min.js', dir: dirname(require.resolve('vega')) },
  { file: 'vega-lite.min.js', dir: dirname(require.resolve('vega-lite')) },
  { file: 'vega-embed.min.js', dir: dirname(require.resolve('vega-embed')) },
];
// The page's own script, in public/ next to src/ and dist/ alike, so both run from the same file.
const OWN_ASSETS = fileURLToPath(new URL('../../public/', import.meta.url));
const SCRIPTS = [...VENDOR.map((asset) => asset.file), 'dashboard.js'].map((file) => `${ASSETS}${file}`);

const chartsParams = {
  type: 'object',
  required: ['userId'],
  properties: { userId: { type: 'string', pattern: '^[0-9]{1,19}$' } },
} as const;
const chartsQuery = {
  type: 'object',
  properties: { range: { type: 'integer', enum: [...RANGES], default: 30 } },
  additionalProperties: false,
} as const;
const loginBody = {
  type: 'object',
  required: ['password'],
  properties: { password: { type: 'string', maxLength: 1024 }, _csrf: { type: 'string', maxLength: 256 } },
} as const;

export const dashboardRoutes: FastifyPluginAsync = async (app) => {
  const password = app.config.dashboard.password;
  if (!password) {
    app.get('/dashboard', async (_request, reply) => sendPage(reply, 200, disabledPage()));
    exportRoutes(app);
    return;
  }
  await registerSessions(app, app.config, password);
  await app.register(formbody, { bodyLimit: 4096 });
  await app.register(fastifyStatic, {
    root: [OWN_ASSETS, ...VENDOR.map((asset) => asset.dir)],
    prefix: ASSETS,
    allowedPath: (path) => SCRIPTS.includes(`${ASSETS}${path.replace(/^\//, '')}`),
    index: false,
    list: false,
    maxAge: '1h',
  });
  loginRoutes(app, password);
  pageRoutes(app);
  memberRoutes(app);
  // The operator exports anyone's data; a member only their own.
  exportRoutes(app, async (request) => {
    const viewer = await viewerOf(request, app.members.sessions);
    if (!viewer) return undefined;
    return viewer.kind === 'member' ? { onlyMember: viewer.userId.toString() } : {};
  });
};

function loginRoutes(app: FastifyInstance, password: string): void {
  const { sessionDays } = app.config.dashboard;
  const sessions = app.members.sessions;

  app.get('/login', async (request, reply) => {
    if (await viewerOf(request, sessions)) return reply.redirect('/dashboard', 302);
    return sendPage(reply, 200, loginPage(await reply.generateCsrf()));
  });

  app.post<{ Body: { password: string } }>(
    '/login',
    {
      // Guessing the password online is slowed to a few tries a minute per client address.
      config: { rateLimit: { max: 10, timeWindow: 60_000 } },
      schema: { body: loginBody },
      preHandler: app.csrfProtection,
    },
    async (request, reply) => {
      if (!passwordMatches(request.body.password, password)) {
        request.log.warn('dashboard sign-in refused: wrong password');
        return sendPage(reply, 401, loginPage(await reply.generateCsrf(), 'Wrong password.'));
      }
      await signIn(request, sessions, { kind: 'operator' }, sessionDays);
      request.log.info('dashboard sign-in');
      return reply.redirect('/dashboard', 303);
    },
  );

  app.post('/logout', { preHandler: app.csrfProtection }, async (request, reply) => {
    await signOut(request, sessions);
    return reply.redirect('/login', 303);
  });
}

function pageRoutes(app: FastifyInstance): void {
  const sessions = app.members.sessions;
  const daily = dailyPoints(app.db);
  // The Connect button's post redirects to WHOOP, which sends the browser on to PUBLIC_URL's callback.
  const connectTargets = [new URL(app.config.whoop.apiUrl).origin, new URL(app.config.publicUrl).origin];

  const mcpUrl = `${app.config.publicUrl}/mcp`;

  app.get('/dashboard', { preHandler: pageSession(sessions) }, async (request, reply) => {
    const viewer = request.viewer!;
    const csrf = await reply.generateCsrf();
    // The MCP token section only while the operator has the MCP server on (MCP_TOKEN).
    const sections = viewer.kind === 'operator'
      ? memberLinksSection(csrf, await app.members.settings.all())
      : app.config.mcpToken ? mcpTokenSection(csrf, await app.members.mcpTokens.createdAt(viewer.userId), mcpUrl) : '';
    return sendPage(reply, 200, dashboardPage(csrf, SCRIPTS, viewer.kind, sections), connectTargets);
  });

  app.get('/dashboard/api/overview', { preHandler: apiSession(sessions) }, async (request, reply) => {
    const viewer = request.viewer!;
    const summary = await statusSummary(app, { names: true });
    reply.header('cache-control', 'no-store');
    return {
      ...summary,
      viewer: viewer.kind,
      // A member sees their own account only.
      accounts: viewer.kind === 'operator' ? summary.accounts : summary.accounts.filter((account) => account.userId === viewer.userId.toString()),
      history: {
        ...summary.history,
        members: viewer.kind === 'operator' ? summary.history.members : summary.history.members.filter((member) => member.userId === viewer.userId.toString()),
      },
      digests: summary.digests.map((digest) => ({ name: digest.kind, nextRun: digest.nextRun })),
    };
  });

  app.get<{ Params: { userId: string }; Querystring: { range: Range } }>(
    '/dashboard/api/members/:userId/charts',
    { preHandler: apiSession(sessions), schema: { params: chartsParams, querystring: chartsQuery } },
    async (request, reply) => {
      const userId = BigInt(request.params.userId);
      const viewer = request.viewer!;
      // Another member's data is answered exactly like a member that does not exist.
      if (viewer.kind === 'member' && viewer.userId !== userId) return reply.status(404).send({ error: 'Not Found', message: 'no such member' });
      const account = await app.db.prisma.whoopUser.findUnique({ where: { userId }, select: { userId: true } });
      if (!account) return reply.status(404).send({ error: 'Not Found', message: 'no such member' });
      const { range } = request.query;
      const days = rangeDays(range, app.config.sync.timezone, new Date());
      const { from } = days;
      const points = await daily.since(userId, from);
      const zones = Object.fromEntries(RECOVERY_ZONES.map((zone) => [zoneName(zone), 0]));
      for (const point of points) {
        if (point.recoveryScore !== null) zones[zoneName(recoveryZone(point.recoveryScore))]! += 1;
      }
      reply.header('cache-control', 'no-store');
      return {
        userId: request.params.userId,
        range,
        from,
        days: points.length,
        recoveryZones: zones,
        charts: dashboardCharts(points, days),
      };
    },
  );
}
