// Shares the app's metrics registry.
import fp from 'fastify-plugin';
import { createMetrics, type Metrics } from './metrics.js';

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics;
  }
}

export default fp(
  async (app) => {
    app.decorate('metrics', createMetrics());
  },
  { name: 'metrics' },
);
