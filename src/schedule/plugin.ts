// Starts the schedules once the app is ready and stops them first on shutdown.
import fp from 'fastify-plugin';
import type { Config } from '../config/config.js';
import { Scheduler } from './scheduler.js';
import { scheduleSlots } from './slots.js';

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
      slots: scheduleSlots(app.db),
      runs: app.syncRuns,
      sync: app.sync,
      metrics: app.metrics,
      log: app.log.child({ component: 'schedule' }),
    });
    app.decorate('scheduler', scheduler);
    app.addHook('onReady', async () => scheduler.start());
    app.addHook('preClose', async () => scheduler.stop());
  },
  { name: 'schedule', dependencies: ['database', 'metrics', 'sync'] },
);
