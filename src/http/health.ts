// Liveness and readiness for orchestrators and load balancers.
import type { FastifyPluginAsync } from 'fastify';

/** A readiness probe must answer quickly even when the database hangs. */
const READINESS_TIMEOUT_MS = 2_000;

const statusSchema = {
  type: 'object',
  properties: { status: { type: 'string' } },
  required: ['status'],
} as const;

export const healthRoutes: FastifyPluginAsync = async (app) => {
  // Probes run every few seconds: keep them out of the request log unless something goes wrong.
  app.get('/healthz', { logLevel: 'warn', schema: { response: { 200: statusSchema } } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { logLevel: 'warn', schema: { response: { 200: statusSchema, 503: statusSchema } } }, async (request, reply) => {
    try {
      await withTimeout(app.db.prisma.$queryRaw`SELECT 1`, READINESS_TIMEOUT_MS);
      return { status: 'ready' };
    } catch (error) {
      request.log.warn({ err: error }, 'readiness check failed: the database does not answer');
      return reply.status(503).send({ status: 'database unavailable' });
    }
  });
};

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
