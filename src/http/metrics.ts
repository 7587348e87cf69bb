// GET /metrics: the Prometheus text exposition of the app's registry.
import type { FastifyPluginAsync } from 'fastify';
import { operatorAuth } from './operator-auth.js';

export const metricsRoutes: FastifyPluginAsync = async (app) => {
  app.get('/metrics', { logLevel: 'warn', onRequest: operatorAuth(app.config.metricsToken) }, async (_request, reply) => {
    reply.header('content-type', app.metrics.registry.contentType);
    return app.metrics.registry.metrics();
  });
};
