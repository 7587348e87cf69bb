// Starts the digest schedules once the app is ready; on shutdown stops them and gives a digest being posted a
// few seconds to finish.
import fp from 'fastify-plugin';
import type { Config } from '../config/config.js';
import { SlackPoster } from '../slack/poster.js';
import { Digests } from './digests.js';
import { scheduleSlots } from '../schedule/slots.js';

const DRAIN_MS = 5_000;

declare module 'fastify' {
  interface FastifyInstance {
    digests: Digests;
  }
}

export default fp<{ config: Config }>(
  async (app, { config }) => {
    const digests = new Digests({
      digest: config.digest,
      timezone: config.sync.timezone,
      db: app.db,
      slots: scheduleSlots(app.db),
      runs: app.syncRuns,
      sync: app.sync,
      history: app.history,
      poster: new SlackPoster(config.slack.botToken, config.slack.apiUrl),
      directMessages: Boolean(config.slack.botToken),
      settings: app.members.settings,
      metrics: app.metrics,
      log: app.log.child({ component: 'digest' }),
    });
    app.decorate('digests', digests);
    app.addHook('onReady', async () => digests.start());
    app.addHook('preClose', async () => {
      digests.stop();
      if (!(await digests.idle(DRAIN_MS))) app.log.warn('a digest was still being prepared at shutdown');
    });
  },
  { name: 'digests', dependencies: ['database', 'metrics', 'sync', 'members'] },
);
