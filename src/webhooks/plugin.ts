// Wires WHOOP webhooks: the recorded events, the worker that processes them (work.ts),
// and the ingress route. At start-up the worker takes what a previous process recorded but did not finish.
import fp from 'fastify-plugin';
import { WebhookWork } from './work.js';
import { webhookEvents, type WebhookEvents } from './events.js';
import { whoopWebhookRoutes } from './route.js';

/** How long shutdown waits for a pass in progress (its WHOOP requests are cancelled by then). */
const DRAIN_MS = 3_000;

declare module 'fastify' {
  interface FastifyInstance {
    webhooks: { events: WebhookEvents; work: WebhookWork };
  }
}

export default fp(
  async (app) => {
    const events = webhookEvents(app.db);
    const work = new WebhookWork({
      db: app.db,
      api: app.whoop.api,
      events,
      metrics: app.metrics,
      log: app.log.child({ component: 'webhooks' }),
      signal: app.whoop.shutdownSignal,
    });
    app.decorate('webhooks', { events, work });
    await app.register(whoopWebhookRoutes);

    app.addHook('onReady', async () => {
      // In the background, after the seed (the events' member may be the seeded one).
      void app.whoop.seeded.then(() => work.notify());
    });
    app.addHook('preClose', async () => {
      work.stop();
      await work.idle(DRAIN_MS);
    });
  },
  { name: 'webhooks', dependencies: ['database', 'metrics', 'whoop', 'sync'] },
);
