import type { FastifyRequest, FastifyServerOptions } from 'fastify';
import type { Config } from './config.js';

/** JSON lines for log collectors; readable colour output when a person watches a terminal. */
export function loggerOptions(config: Pick<Config, 'logLevel'>, destination: 'stdout' | 'stderr' = 'stdout'): FastifyServerOptions['logger'] {
  const stream = destination === 'stdout' ? process.stdout : process.stderr;
  return {
    level: config.logLevel,
    // Request lines carry the path only: query strings hold OAuth codes and states.
    serializers: {
      req: (request: FastifyRequest) => ({
        method: request.method,
        url: request.url.split('?')[0],
        host: request.host,
        remoteAddress: request.ip,
        remotePort: request.socket?.remotePort,
      }),
    },
    // Never write credentials, even when a request or error object is logged whole.
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'req.headers["x-slack-signature"]',
        '*.access_token',
        '*.refresh_token',
        '*.client_secret',
      ],
      censor: '[redacted]',
    },
    ...(stream.isTTY
      ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:standard', ignore: 'pid,hostname', destination: destination === 'stdout' ? 1 : 2 } } }
      : { stream }),
  };
}
