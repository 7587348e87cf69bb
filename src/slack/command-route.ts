// POST /slack/commands: Slack's slash-command ingress. The order matters:
//   1. the raw body is kept exactly as received (nothing is interpreted before the signature is checked);
//   2. ssl_check pings are answered 200 with an empty body;
//   3. the signature is verified (HMAC over the raw body, timestamp within 5 minutes, no replays);
//   4. the command is handled as every slash command is (slash-command.ts: /sync records a run and is
//      acknowledged at once with "⏳ Syncing last N days...");
//   5. only after the response has gone out does the sync start, in the background.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { ReplayGuard } from './replay-guard.js';
import { SLACK_SIGNATURE_TOLERANCE_SECONDS, verifySlackSignature, type SignatureResult } from './signature.js';
import { failureText } from './messages.js';
import { acceptSlashCommand } from './slash-command.js';

/** Slash-command payloads are a few hundred bytes; anything near this is not from Slack. */
const BODY_LIMIT = 16 * 1024;

/** Requests failing verification that one address may send per minute before it gets 429s. */
const UNVERIFIED_PER_MINUTE = 30;

declare module 'fastify' {
  interface FastifyRequest {
    /** The body as received, and the signature verdict, established before anything else runs. */
    slack?: { raw: Buffer; verdict: Verdict };
    /** Set when this request acknowledged a /sync: the run to start once the response is sent. */
    acceptedRunId?: number;
  }
}

type Verdict = SignatureResult | { ok: false; reason: 'replayed' | 'replay_check_failed'; detail: string };

export const slackCommandRoutes: FastifyPluginAsync = async (app) => {
  const { signingSecret, allowedUserIds, allowedChannelIds } = app.config.slack;
  const replays = new ReplayGuard(app.db, 2 * SLACK_SIGNATURE_TOLERANCE_SECONDS * 1000);
  const commands = app.metrics.slackCommands;
  const slashCommands = { allowedUserIds, allowedChannelIds, runs: app.syncRuns, commands };

  // Only form bodies are accepted here (this plugin's scope drops the JSON parser), kept as the bytes
  // received: the signature covers those bytes, and parsing happens after it is checked.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'buffer', bodyLimit: BODY_LIMIT }, (_request, body, done) => done(null, body));

  const routeOptions = {
    bodyLimit: BODY_LIMIT,
    // Verify first, so the rate limit below can tell Slack's requests from everything else.
    preValidation: async (request: FastifyRequest<{ Body?: Buffer }>) => {
      // A client gone before its request was read can receive no answer, so nothing may start for it.
      // (Its address is gone with its socket, too: the rate limiter below could not key it.)
      if (request.raw.socket?.destroyed) throw Object.assign(new Error('the client closed the connection'), { statusCode: 400 });
      const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      let verdict: Verdict = signingSecret
        ? verifySlackSignature({
            signingSecret,
            signature: request.headers['x-slack-signature'],
            timestamp: request.headers['x-slack-request-timestamp'],
            rawBody: raw,
            nowSeconds: Date.now() / 1000,
          })
        : { ok: false, reason: 'signature_mismatch', detail: 'no signing secret configured' };
      // A valid signature seen before is a replay. Hex letters may arrive in either case for the same
      // digest, so the digest is compared in one case. Replays are then rate limited like forgeries.
      if (verdict.ok) {
        try {
          if (!(await replays.firstSighting(String(request.headers['x-slack-signature']).toLowerCase()))) {
            verdict = { ok: false, reason: 'replayed', detail: 'this exact signed request was already received' };
          }
        } catch (error) {
          request.log.error({ err: error }, 'the replay check could not reach the database');
          verdict = { ok: false, reason: 'replay_check_failed', detail: 'the database did not answer' };
        }
      }
      request.slack = { raw, verdict };
    },
    // Correctly signed requests are never limited (they are Slack's); anything else from one address is
    // limited, so a flood of forged requests cannot keep the service busy.
    config: {
      rateLimit: {
        max: UNVERIFIED_PER_MINUTE,
        timeWindow: 60_000,
        hook: 'preHandler' as const,
        allowList: (request: FastifyRequest) => request.slack?.verdict.ok === true,
      },
    },
  };

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
      return reply.status(503).send({ error: 'Service Unavailable', message: 'SLACK_SIGNING_SECRET is not configured' });
    }

    if (!verdict.ok && verdict.reason === 'replay_check_failed') {
      commands.inc({ outcome: 'error' });
      return reply.status(200).send({
        response_type: 'ephemeral',
        text: failureText('Could not check this /sync: the database did not answer. Please try again in a moment.'),
      });
    }
    if (!verdict.ok) {
      app.metrics.slackSignatureFailures.inc({ reason: verdict.reason });
      request.log.warn({ reason: verdict.reason }, `Slack request refused: ${verdict.detail}`);
      return reply.status(401).send({ error: 'Unauthorized', message: `request signature refused (${verdict.reason})` });
    }

    const { reply: body, runId } = await acceptSlashCommand(slashCommands, fields, request.log);
    request.acceptedRunId = runId;
    if (runId !== undefined) app.dispatcher.hold(runId);
    return reply.status(200).send(body);
  });

  // The sync starts only once the acknowledgement is on the wire.
  app.addHook('onResponse', async (request) => {
    if (request.acceptedRunId !== undefined) app.dispatcher.enqueue(request.acceptedRunId);
  });
};
