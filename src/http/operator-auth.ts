// /metrics and /status are for operators: with METRICS_TOKEN set they require
// `Authorization: Bearer <token>`, compared in constant time.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

const digest = (value: string) => createHash('sha256').update(value).digest();

export function operatorAuth(token: string | undefined) {
  const expected = token ? digest(token) : undefined;
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (!expected) return;
    const header = request.headers.authorization ?? '';
    const match = /^Bearer (.+)$/.exec(header);
    // Hashing first gives equal lengths, so the comparison time says nothing about the token.
    if (!match || !timingSafeEqual(digest(match[1]!), expected)) {
      request.log.warn('operator endpoint refused: missing or wrong bearer token');
      return reply.status(401).header('www-authenticate', 'Bearer').send({ error: 'Unauthorized', message: 'a valid bearer token is required' });
    }
  };
}
