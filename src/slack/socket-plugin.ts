// Socket Mode ingress (SLACK_APP_TOKEN): slash commands from the WebSocket go through the same handling as
// POST /slack/commands, and each acknowledged /sync is run by the same worker. `app.slackSocket`
// tells the connection's state to /status and the home page, also when Socket Mode is off.
import fp from 'fastify-plugin';
import type { Config } from '../config/config.js';
import { acceptSlashCommand } from './slash-command.js';
import type { SlackSocketStatus } from './socket-mode.js';
import { actOn, buttonPresses, type ForgetMember } from './interactivity.js';
import { SlackPoster } from './poster.js';
import { whoopHandler } from './whoop-command.js';

declare module 'fastify' {
  interface FastifyInstance {
    slackSocket: { status(): SlackSocketStatus };
  }
}

export default fp<{ config: Config; forget: ForgetMember }>(
  async (app, { config, forget }) => {
    const { appToken, apiUrl, allowedUserIds, allowedChannelIds } = config.slack;
    const log = app.log.child({ component: 'slack-socket' });
    if (!appToken) {
      app.decorate('slackSocket', { status: (): SlackSocketStatus => ({ enabled: false }) });
      app.addHook('onReady', async () => log.info('Slack Socket Mode is off (SLACK_APP_TOKEN is not set): slash commands arrive at POST /slack/commands'));
      return;
    }
    // Loaded only when used: the library and undici add about 13 MB to the process (measured RSS).
    const { SlackSocket } = await import('./socket-mode.js');
    const whoop = whoopHandler(app);
    const actions = { app, poster: new SlackPoster(config.slack.botToken, apiUrl), forget, log };
    const socket = new SlackSocket({
      appToken,
      apiUrl,
      log,
      connected: app.metrics.slackSocketConnected,
      accept: (fields, envelopeId) => {
        const commands = app.metrics.slackCommands;
        const workspace = app.slackWorkspace;
        const options = { allowedUserIds, allowedChannelIds, runs: app.syncRuns, commands, workspace, whoop };
        return acceptSlashCommand(options, fields, log, envelopeId);
      },
      acknowledged: () => app.worker.wake(),
      interactive: (payload) => {
        for (const press of buttonPresses(payload, app.slackWorkspace)) void actOn(actions, press);
      },
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
  { name: 'slack-socket', dependencies: ['metrics', 'database', 'slack-workspace', 'members'] },
);
