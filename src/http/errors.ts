// One place decides what a failed request tells its caller: 4xx errors explain themselves, 5xx errors are
// logged with their request and never leak details.
import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance } from 'fastify';

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500;
    if (status >= 500) {
      request.log.error({ err: error }, 'request failed');
      return reply.status(status).send({ error: STATUS_CODES[status], message: 'The server could not complete this request.' });
    }
    request.log.info({ status, reason: error.message }, 'request refused');
    return reply.status(status).send({ error: STATUS_CODES[status], message: error.message });
  });

  // A wrong Request URL is the most common Slack set-up mistake: make it visible in the logs.
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    request.log.info({ method: request.method, path: path.slice(0, 200) }, 'no route for this request');
    return reply.status(404).send({ error: 'Not Found', message: 'No such route.' });
  });
}
