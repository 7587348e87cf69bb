// Socket Mode ingress (SLACK_APP_TOKEN): slash commands from the WebSocket go through the same handling as
// POST /slack/commands, and each acknowledged /sync is started by the same dispatcher. `app.slackSocket`
// tells the connection's state to /status and the home page, also when Socket Mode is off.
import fp from 'fastify-plugin';
import type { Config } from '../config/config.js';
import { acceptSlashCommand } from './slash-command.js';
import type { SlackSocketStatus } from './socket-mode.js';

declare module 'fastify' {
  interface FastifyInstance {
    slackSocket: { status(): SlackSocketStatus };
  }
}

export default fp<{ config: Config }>(
  async (app, { config }) => {
    const { appToken, apiUrl, allowedUserIds, allowedChannelIds } = config.slack;
    const log = app.log.child({ component: 'slack-socket' });
    if (!appToken) {
      app.decorate('slackSocket', { status: (): SlackSocketStatus => ({ enabled: false }) });
      app.addHook('onReady', async () => log.info('Slack Socket Mode is off (SLACK_APP_TOKEN is not set): slash commands arrive at POST /slack/commands'));
      return;
    }
    // Loaded only when used: the library and undici add about 13 MB to the process (measured RSS).
    const { SlackSocket } = await import('./socket-mode.js');
    const socket = new SlackSocket({
      appToken,
      apiUrl,
      log,
      connected: app.metrics.slackSocketConnected,
      accept: async (fields, envelopeId) => {
        const accepted = await acceptSlashCommand(
          { allowedUserIds, allowedChannelIds, runs: app.syncRuns, commands: app.metrics.slackCommands },
          fields,
          log,
          envelopeId,
        );
        if (accepted.runId !== undefined) app.dispatcher.hold(accepted.runId);
        return accepted;
      },
      acknowledged: (runId) => app.dispatcher.enqueue(runId),
    });
    app.decorate('slackSocket', socket);
    app.addHook('onReady', async () => {
      log.info('Slack Socket Mode is on (SLACK_APP_TOKEN): connecting to Slack; slash commands arrive over the connection');
      socket.start();
    });
    // Runs before the sync plugin's drain (this plugin is registered before it, see app.ts): a stopping
    // process takes no more commands, so Slack sends them to another connection.
    app.addHook('preClose', () => socket.stop());
  },
  { name: 'slack-socket', dependencies: ['metrics', 'database'] },
);
