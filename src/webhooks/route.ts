// POST /webhooks/whoop: WHOOP's webhook ingress. The order matters:
//   1. the raw body is kept exactly as received (nothing is interpreted before the signature is checked);
//   2. the signature is verified (HMAC over timestamp + raw body, timestamp within 5 minutes either way);
//   3. the event is read and recorded in the database, deduplicated on its trace_id;
//   4. the answer (2xx) goes out; only then is the worker woken, so no WHOOP request precedes the answer.
// Unverified requests are rate limited per address; WHOOP's own (correctly signed) ones never are.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { WEBHOOK_TYPES, type WebhookType } from './events.js';
import { verifyWhoopSignature, type WhoopSignatureResult } from './signature.js';

/** WHOOP's notifications are about 150 bytes; anything near this is not from WHOOP. */
const BODY_LIMIT = 8 * 1024;
/** Requests failing verification that one address may send per minute before it gets 429s. */
const UNVERIFIED_PER_MINUTE = 30;

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

const eventSchema = z.object({
  user_id: z.number().int().positive().refine(Number.isSafeInteger),
  id: z.string().min(1).max(100),
  type: z.string().min(1).max(100),
  trace_id: z.string().min(1).max(200),
});

declare module 'fastify' {
  interface FastifyRequest {
    whoopWebhook?: { raw: Buffer; verdict: WhoopSignatureResult };
    /** Set when this request recorded a new event: the worker is told once the answer is sent. */
    recordedWebhook?: boolean;
  }
}

const isKnownType = (type: string): type is WebhookType => (WEBHOOK_TYPES as readonly string[]).includes(type);

export const whoopWebhookRoutes: FastifyPluginAsync = async (app) => {
  const { clientSecret } = app.config.whoop;
  const count = (type: string, outcome: string) => app.metrics.webhooks.inc({ type: isKnownType(type) ? type : 'unknown', outcome });

  // Any content type, kept as bytes: the signature covers the body exactly as sent.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: BODY_LIMIT }, (_request, body, done) => done(null, body));

  const refuse = (reply: FastifyReply, status: 400 | 401 | 503, error: string, message: string) =>
    reply.status(status).send({ error, message });

  app.post(
    '/webhooks/whoop',
    {
      bodyLimit: BODY_LIMIT,
      preValidation: async (request: FastifyRequest) => {
        if (request.raw.socket?.destroyed) throw Object.assign(new Error('the client closed the connection'), { statusCode: 400 });
        const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
        const verdict: WhoopSignatureResult = clientSecret
          ? verifyWhoopSignature({
              clientSecret,
              signature: request.headers['x-whoop-signature'],
              timestamp: request.headers['x-whoop-signature-timestamp'],
              rawBody: raw,
              nowMs: Date.now(),
            })
          : { ok: false, reason: 'signature_mismatch', detail: 'WHOOP_CLIENT_SECRET is not configured' };
        request.whoopWebhook = { raw, verdict };
      },
      config: {
        rateLimit: {
          max: UNVERIFIED_PER_MINUTE,
          timeWindow: 60_000,
          hook: 'preHandler' as const,
          allowList: (request: FastifyRequest) => request.whoopWebhook?.verdict.ok === true,
        },
      },
    },
    async (request, reply) => {
      const { raw, verdict } = request.whoopWebhook!;
      if (!clientSecret) {
        count('unknown', 'unavailable');
        return refuse(reply, 503, 'Service Unavailable', 'WHOOP_CLIENT_SECRET is not configured');
      }
      if (!verdict.ok) {
        count('unknown', 'refused');
        request.log.warn({ reason: verdict.reason }, `WHOOP webhook refused: ${verdict.detail}`);
        return refuse(reply, 401, 'Unauthorized', `webhook signature refused (${verdict.reason})`);
      }

      let json: unknown;
      try {
        json = JSON.parse(raw.toString('utf8'));
      } catch {
        json = undefined;
      }
      const parsed = eventSchema.safeParse(json);
      if (!parsed.success) {
        count('unknown', 'invalid');
        return refuse(reply, 400, 'Bad Request', 'the body is not a WHOOP webhook event ({"user_id", "id", "type", "trace_id"})');
      }
      const { user_id: userId, id, type, trace_id: traceId } = parsed.data;
      // A type WHOOP adds later is acknowledged (a 4xx would only make WHOOP retry it) and left to the schedules.
      if (!isKnownType(type)) {
        count(type, 'ignored');
        request.log.info({ type: type.slice(0, 100) }, 'WHOOP webhook of an unknown type ignored');
        return reply.status(200).send({ ok: true });
      }
      if (!UUID.test(id)) {
        count(type, 'invalid');
        return refuse(reply, 400, 'Bad Request', `the id of a ${type} event must be a UUID`);
      }

      let outcome;
      try {
        outcome = await app.webhooks.events.record({
          traceId,
          userId: BigInt(userId),
          type,
          recordId: id.toLowerCase(),
        });
      } catch (error) {
        // Not acknowledged, so WHOOP delivers it again later: nothing is lost.
        count(type, 'unavailable');
        request.log.error({ err: error }, 'WHOOP webhook could not be recorded');
        return refuse(reply, 503, 'Service Unavailable', 'the event could not be recorded; please deliver it again');
      }
      count(type, outcome);
      request.recordedWebhook = outcome === 'accepted';
      request.log.info({ type, traceId: traceId.slice(0, 200), outcome }, 'WHOOP webhook received');
      return reply.status(200).send({ ok: true });
    },
  );

  app.addHook('onResponse', async (request) => {
    if (request.recordedWebhook) app.worker.wake();
  });
};
