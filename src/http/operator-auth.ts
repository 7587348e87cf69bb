// /metrics and /status are for operators: with METRICS_TOKEN set they require
// `Authorization: Bearer <token>`, compared in constant time. The MCP server and the exports (MCP_TOKEN)
// use the same comparison.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * A check of `Authorization: Bearer <token>` against `token`. Hashing both sides first gives equal
 * lengths, so the comparison's time says nothing about the token.
 */
export function bearerToken(token: string) {
  const expected = digest(token);
  return (authorization: string | undefined): boolean => {
    const match = /^Bearer (.+)$/.exec(authorization ?? '');
    return match !== null && timingSafeEqual(digest(match[1]!), expected);
  };
}

/** The 401 every refusal of a bearer token sends. */
export function refuseBearer(reply: FastifyReply) {
  return reply
    .status(401)
    .header('www-authenticate', 'Bearer')
    .header('cache-control', 'no-store')
    .send({ error: 'Unauthorized', message: 'a valid bearer token is required' });
}

export function operatorAuth(token: string | undefined) {
  const matches = token ? bearerToken(token) : undefined;
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (!matches) return;
    if (!matches(request.headers.authorization)) {
      request.log.warn('operator endpoint refused: missing or wrong bearer token');
      return refuseBearer(reply);
    }
  };
}
