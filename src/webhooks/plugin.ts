// Wires WHOOP webhooks: the recorded events, the worker's step that processes them (its first task: a
// webhook names a record that changed just now), and the ingress route.
import fp from 'fastify-plugin';
import { processDueEvents } from './work.js';
import { webhookEvents, type WebhookEvents } from './events.js';
import { whoopWebhookRoutes } from './route.js';

declare module 'fastify' {
  interface FastifyInstance {
    webhooks: { events: WebhookEvents };
  }
}

export default fp(
  async (app) => {
    const events = webhookEvents(app.db);
    const options = { db: app.db, api: app.whoop.api, events, metrics: app.metrics, log: app.log.child({ component: 'webhooks' }), signal: app.whoop.shutdownSignal };
    app.worker.add(10, 'webhook', () => processDueEvents(options));
    app.decorate('webhooks', { events });
    await app.register(whoopWebhookRoutes);
  },
  { name: 'webhooks', dependencies: ['database', 'metrics', 'whoop', 'sync'] },
);
