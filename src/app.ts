// The application factory. The server entry point and the tests build the same app, so what is tested is
// what runs. Plugins load in dependency order: configuration, then resources, then routes.
import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Config } from './config/config.js';
import database from './db/plugin.js';
import { AccessLog } from './http/access-log.js';
import { registerErrorHandling } from './http/errors.js';
import { healthRoutes } from './http/health.js';
import { slackCommandRoutes } from './slack/command-route.js';
import { interactivityRoutes } from './slack/interactivity.js';
import { loggerOptions } from './logger.js';
import { forgetMember } from './members/forget.js';
import { linkRoutes } from './team/link-routes.js';
import members from './team/plugin.js';
import metrics from './metrics/plugin.js';
import { connectRoutes } from './whoop/connect-routes.js';
import whoop from './whoop/plugin.js';
import sync from './sync/plugin.js';
import slackSocket from './slack/socket-plugin.js';
import slackWorkspace from './slack/workspace.js';
import schedule from './schedule/plugin.js';
import digests from './digests/plugin.js';
import { metricsRoutes } from './http/metrics.js';
import { statusRoutes } from './http/status.js';
import webhooks from './webhooks/plugin.js';
import { dashboardRoutes } from './dashboard/routes.js';
import { SlackPoster } from './slack/poster.js';
import { historyCompleteText } from './slack/messages.js';
import { Reporter } from './slack/reporter.js';
import { homeRoutes } from './http/home.js';
import { mcpRoutes } from './mcp/route.js';

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
  }
}

export interface AppOptions {
  /** Replaces the default logger (tests capture or silence logs through this). */
  logger?: FastifyServerOptions['logger'];
  loggerInstance?: FastifyServerOptions['loggerInstance'];
  /**
   * A one-off command (`npm run sync`) may use the embedded database of a service running on the same
   * DATA_DIR; the service itself refuses to start beside another one (default false).
   */
  sharedDatabase?: boolean;
}

export async function buildApp(config: Config, options: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    ...(options.loggerInstance
      ? { loggerInstance: options.loggerInstance }
      : { logger: options.logger ?? loggerOptions(config) }),
    // Slack and WHOOP never send large bodies; anything bigger is refused before it is buffered.
    bodyLimit: 64 * 1024,
    // Fastify's default of 10 s per plugin is too short for the database's: on a first start it creates the
    // embedded database (Postgres' initdb, several seconds on a small or busy machine), then migrates it.
    // A PostgreSQL server that does not answer still fails fast, on the pool's own 5 s connect timeout.
    pluginTimeout: 120_000,
    // Bounded waits so slow or stuck clients cannot hold connections open.
    requestTimeout: 30_000,
    connectionTimeout: 30_000,
    return503OnClosing: true,
    // A hop count means: believe that many proxies in front of the service.
    trustProxy: typeof config.trustProxy === 'number' ? (_address: string, hop: number) => hop < (config.trustProxy as number) : config.trustProxy,
    forceCloseConnections: 'idle',
    // One line per request instead of two: see http/access-log.ts.
    logController: new AccessLog(),
  });
  app.decorate('config', config);
  registerErrorHandling(app);
  // Limits are set per public route (Slack ingress, OAuth); nothing else is limited.
  await app.register(rateLimit, { global: false });

  await app.register(metrics);
  await app.register(database, { config, sharedDatabase: options.sharedDatabase ?? false });
  await app.register(members);
  await app.register(whoop, { config });
  // `/whoop forget` (slack/) does what `npm run forget` does; members/ sits above slack/, so it is wired in here.
  const forget = (userId: bigint) => forgetMember({ db: app.db, api: app.whoop.api }, userId);
  // Before both Slack ingresses: they refuse commands from other workspaces and apps.
  await app.register(slackWorkspace, { config });
  // Before sync: its shutdown hook closes the Slack connection before sync's waits for running work.
  await app.register(slackSocket, { config, forget });
  // sync/ reports results through an interface; Slack implements it.
  const poster = new SlackPoster(config.slack.botToken, config.slack.apiUrl);
  const reporter = new Reporter({
    db: app.db,
    poster,
    members: app.members.settings,
    reportChannel: config.slack.reportChannel,
    log: app.log.child({ component: 'slack' }),
  });
  await app.register(sync, {
    results: reporter,
    deliveryTimeoutMs: config.slack.resultRetryMs,
    deadlineMs: config.sync.deadlineMs,
    historySince: config.whoop.historySince,
    historyOnConnect: config.whoop.historyOnConnect,
    announceHistory: async (complete) => {
      const channel = config.slack.reportChannel;
      if (!channel || !poster.canPost) return;
      const member = (await app.members.settings.all()).find((each) => each.userId === complete.userId.toString());
      const name = member?.shares ? member.name : undefined;
      await poster.postMessage(channel, historyCompleteText(name, complete.oldest, complete.records));
    },
  });
  await app.register(schedule, { config });
  await app.register(webhooks);
  await app.register(digests, { config });

  await app.register(healthRoutes);
  await app.register(metricsRoutes);
  await app.register(statusRoutes);
  await app.register(connectRoutes);
  await app.register(linkRoutes);
  await app.register(slackCommandRoutes);
  await app.register(interactivityRoutes, { forget });
  await app.register(dashboardRoutes);
  await app.register(homeRoutes);
  await app.register(mcpRoutes);

  await app.ready();
  return app;
}
