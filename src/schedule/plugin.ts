// Starts the schedules once the app is ready and stops them first on shutdown.
import fp from 'fastify-plugin';
import type { Config } from '../config/config.js';
import { Scheduler } from './scheduler.js';

declare module 'fastify' {
  interface FastifyInstance {
    scheduler: Scheduler;
  }
}

export default fp<{ config: Config }>(
  async (app, { config }) => {
    const scheduler = new Scheduler({
      schedules: config.sync.schedules,
      timezone: config.sync.timezone,
      db: app.db,
      runs: app.syncRuns,
      dispatcher: app.dispatcher,
      metrics: app.metrics,
      log: app.log.child({ component: 'schedule' }),
    });
    app.decorate('scheduler', scheduler);
    app.addHook('onReady', async () => scheduler.start());
    app.addHook('preClose', async () => scheduler.stop());
  },
  { name: 'schedule', dependencies: ['database', 'metrics', 'sync'] },
);
