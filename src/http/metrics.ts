// GET /metrics: the Prometheus text exposition of the app's registry.
import type { FastifyPluginAsync } from 'fastify';
import { operatorAuth } from './operator-auth.js';

export const metricsRoutes: FastifyPluginAsync = async (app) => {
  app.get('/metrics', { logLevel: 'warn', onRequest: operatorAuth(app.config.metricsToken) }, async (_request, reply) => {
    reply.header('content-type', app.metrics.registry.contentType);
    const left = await app.whoop.budget.left();
    app.metrics.budgetLeft.set({ window: 'minute' }, left.minute);
    app.metrics.budgetLeft.set({ window: 'day' }, left.day);
    const history = await app.history.summary();
    app.metrics.historyIncomplete.set(history.collectionsIncomplete);
    app.metrics.historyRequestsLeft.set(history.requestsLeft);
    return app.metrics.registry.metrics();
  });
};
