// POST /slack/commands: Slack's slash-command ingress. The order matters:
//   1. the raw body is kept exactly as received (nothing is interpreted before the signature is checked);
//   2. ssl_check pings are answered 200 with an empty body;
//   3. the signature is verified (HMAC over the raw body, timestamp within 5 minutes, no replays:
//      signed-request.ts, shared with button presses);
//   4. the command is handled as every slash command is (slash-command.ts: /sync records a run and is
//      acknowledged at once with "⏳ Syncing last N days...");
//   5. only after the response has gone out is the worker woken, to run the sync in the background.
import type { FastifyPluginAsync } from 'fastify';
import { failureText } from './messages.js';
import { refuseSignature, signedSlackRoute } from './signed-request.js';
import { acceptSlashCommand } from './slash-command.js';
import { whoopHandler } from './whoop-command.js';

/** Slash-command payloads are a few hundred bytes; anything near this is not from Slack. */
const BODY_LIMIT = 16 * 1024;

declare module 'fastify' {
  interface FastifyRequest {
    /** Set when this request acknowledged a /sync: the run to start once the response is sent. */
    acceptedRunId?: number;
  }
}

export const slackCommandRoutes: FastifyPluginAsync = async (app) => {
  const { signingSecret, allowedUserIds, allowedChannelIds } = app.config.slack;
  const commands = app.metrics.slackCommands;
  const workspace = app.slackWorkspace;
  const whoop = whoopHandler(app);
  const slashCommands = { allowedUserIds, allowedChannelIds, runs: app.syncRuns, commands, workspace, whoop };

  const routeOptions = signedSlackRoute(app, BODY_LIMIT);

  app.post<{ Body?: Buffer }>('/slack/commands', routeOptions, async (request, reply) => {
    const { raw, verdict } = request.slack!;
    const fields = new URLSearchParams(raw.toString('utf8'));

    // Slack's certificate check: unsigned by design, must get a 200 and must start nothing.
    if (fields.get('ssl_check') === '1') {
      commands.inc({ outcome: 'ssl_check' });
      return reply.status(200).send('');
    }
    if (!signingSecret) {
      commands.inc({ outcome: 'not_configured' });
      // In Socket Mode that is by design: say so, so that a client is not told to add a secret it does not need.
      const message = `SLACK_SIGNING_SECRET is not configured${app.config.slack.appToken ? '; slash commands arrive over Socket Mode (SLACK_APP_TOKEN)' : ''}`;
      return reply.status(503).send({ error: 'Service Unavailable', message });
    }

    if (!verdict.ok && verdict.reason === 'replay_check_failed') {
      commands.inc({ outcome: 'error' });
      return reply.status(200).send({
        response_type: 'ephemeral',
        text: failureText('Could not check this /sync: the database did not answer. Please try again in a moment.'),
      });
    }
    if (!verdict.ok) return refuseSignature(app, request, reply, verdict);

    const { reply: body, runId } = await acceptSlashCommand(slashCommands, fields, request.log);
    request.acceptedRunId = runId;
    return reply.status(200).send(body);
  });

  // The sync starts only once the acknowledgement is on the wire.
  app.addHook('onResponse', async (request) => {
    if (request.acceptedRunId !== undefined) app.worker.wake();
  });
};
