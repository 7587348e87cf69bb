// Request logging: one line per request, written when the response is finished, with the request, its
// status and duration. Fastify's default writes a second line when each request arrives; at `info` that
// doubled the log volume (and most of the logging cost) of a busy Slack ingress for nothing a finished
// line does not hold. The arrival line is kept at `debug`, for finding requests that never finish.
import { LogController } from 'fastify';

export class AccessLog extends LogController {
  override incomingRequest(request: Parameters<LogController['incomingRequest']>[0]): void {
    request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(...[error, request, reply]: Parameters<LogController['requestCompleted']>): void {
    if (error) reply.log.error({ req: request, res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored');
    else reply.log.info({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }
}
