import type { FastifyRequest, FastifyServerOptions } from 'fastify';
import type { Config } from './config/config.js';

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
    // Never write credentials, should an object holding them be logged whole: at the top level of a line
    // or as an error's properties. (Headers never reach a line: the req serializer above leaves them out.)
    // The paths are exact on purpose: a wildcard path runs the redactor over every object of every line,
    // which cost a busy Slack ingress more memory churn than everything else it logs.
    redact: {
      paths: ['access_token', 'refresh_token', 'client_secret', 'err.access_token', 'err.refresh_token', 'err.client_secret'],
      censor: '[redacted]',
    },
    ...(stream.isTTY ? { transport: { target: 'pino-pretty', options: prettyOptions(destination === 'stdout' ? 1 : 2) } } : { stream }),
  };
}

/**
 * pino-pretty for a person at a terminal: a request is one line (`request completed: GET /healthz 200 in
 * 0.8 ms (req-1)`) instead of its request and response objects spread over a dozen. Other fields (an
 * error and its stack, counts) are still printed below their line.
 */
function prettyOptions(destination: 1 | 2) {
  return {
    translateTime: 'SYS:standard',
    destination,
    ignore: 'pid,hostname,req,res,responseTime,reqId',
    messageFormat:
      '{msg}{if req.method}: {req.method} {req.url}{end}{if res.statusCode} {res.statusCode}{end}' +
      '{if responseTime} in {responseTime} ms{end}{if reqId} ({reqId}){end}',
  };
}
