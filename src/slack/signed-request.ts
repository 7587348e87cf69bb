// What every request Slack signs (slash commands, button presses) goes through before anything in it is read:
//   1. the raw body is kept exactly as received (the signature covers those bytes; parsing comes after);
//   2. the signature is verified (HMAC over the raw body, timestamp within 5 minutes);
//   3. a valid signature seen before is a replay (any replica: ReplayGuard keeps them in the database);
//   4. requests that fail are rate limited per address; correctly signed ones (Slack's) never are.
// Each route then decides what a refusal looks like for its sender.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ReplayGuard } from './replay-guard.js';
import { SLACK_SIGNATURE_TOLERANCE_SECONDS, verifySlackSignature, type SignatureResult } from './signature.js';

/** Requests failing verification that one address may send per minute before it gets 429s. */
const UNVERIFIED_PER_MINUTE = 30;

export type Verdict = SignatureResult | { ok: false; reason: 'replayed' | 'replay_check_failed'; detail: string };

declare module 'fastify' {
  interface FastifyRequest {
    /** The body as received, and the signature verdict, established before anything else runs. */
    slack?: { raw: Buffer; verdict: Verdict };
  }
}

/**
 * Makes `app` (a plugin's own scope) accept only form bodies, kept as bytes, and returns the options of a
 * route that verifies them as above: `request.slack` holds the body and the verdict.
 */
export function signedSlackRoute(app: FastifyInstance, bodyLimit: number) {
  const { signingSecret } = app.config.slack;
  const replays = new ReplayGuard(app.db, 2 * SLACK_SIGNATURE_TOLERANCE_SECONDS * 1000);
  // Only form bodies (this plugin's scope drops the JSON parser), kept as the bytes received.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'buffer', bodyLimit }, (_request, body, done) => done(null, body));

  return {
    bodyLimit,
    // Verify first, so the rate limit below can tell Slack's requests from everything else.
    preValidation: async (request: FastifyRequest) => {
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
      // Hex letters may arrive in either case for the same digest, so the digest is compared in one case.
      // Replays are then rate limited like forgeries.
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
    // A flood of forged requests from one address cannot keep the service busy.
    config: {
      rateLimit: {
        max: UNVERIFIED_PER_MINUTE,
        timeWindow: 60_000,
        hook: 'preHandler' as const,
        allowList: (request: FastifyRequest) => request.slack?.verdict.ok === true,
      },
    },
  };
}

/** The answer to a request whose signature was refused (forged, stale, replayed): counted, logged, 401. */
export function refuseSignature(
  app: FastifyInstance,
  request: FastifyRequest,
  reply: FastifyReply,
  verdict: Verdict & { ok: false },
) {
  app.metrics.slackSignatureFailures.inc({ reason: verdict.reason });
  request.log.warn({ reason: verdict.reason, url: request.url }, `Slack request refused: ${verdict.detail}`);
  return reply.status(401).send({ error: 'Unauthorized', message: `request signature refused (${verdict.reason})` });
}
