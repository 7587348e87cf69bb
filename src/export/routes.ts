// GET /export/<table>.<csv|json>?member=&from=&to=: a member's data (or everyone's) for a range of local
// dates, streamed from the database. Allowed with a dashboard sign-in or `Authorization: Bearer <MCP_TOKEN>`;
// not registered when neither is configured. Requests with neither are rate limited per address.
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { bearerToken, refuseBearer } from '../http/operator-auth.js';
import { isDay } from '../reports/days.js';
import { EXPORT_FORMATS, EXPORT_TABLES, exportChunks, type ExportFormat, type ExportTable } from './tables.js';

const UNVERIFIED_PER_MINUTE = 30;
/** PostgreSQL's largest bigint: the pattern's 19 digits reach past it, and no WHOOP user id does. */
const MAX_USER_ID = 2n ** 63n - 1n;
const DATE = '^\\d{4}-\\d{2}-\\d{2}$';

const querystring = {
  type: 'object',
  properties: {
    member: { type: 'string', pattern: '^[0-9]{1,19}$' },
    from: { type: 'string', pattern: DATE },
    to: { type: 'string', pattern: DATE },
  },
  additionalProperties: false,
} as const;

const params = {
  type: 'object',
  required: ['file'],
  properties: { file: { type: 'string', pattern: `^(${EXPORT_TABLES.join('|')})\\.(${EXPORT_FORMATS.join('|')})$` } },
} as const;

const isDate = (value: string | undefined) => value === undefined || isDay(value);

declare module 'fastify' {
  interface FastifyRequest {
    exportAuthorized?: boolean;
    /** Set for a member's dashboard session: the one member whose data it may export. */
    exportOnlyMember?: string;
  }
}

/** What a dashboard sign-in may export: everyone's (the operator), or `onlyMember`'s. */
type ExportScope = { onlyMember?: string };

/**
 * Registers the export route in the caller's scope; `signedIn` is the dashboard's sign-in check (in the
 * dashboard's scope, where sessions are read), undefined without a dashboard: what the request's session may
 * export, or undefined without one.
 */
export function exportRoutes(
  app: FastifyInstance,
  signedIn?: (request: FastifyRequest) => Promise<ExportScope | undefined>,
): void {
  const token = app.config.mcpToken ? bearerToken(app.config.mcpToken) : undefined;
  if (!token && !signedIn) return;

  app.get<{ Params: { file: string }; Querystring: { member?: string; from?: string; to?: string } }>(
    '/export/:file',
    {
      schema: { params, querystring },
      onRequest: async (request) => {
        if (token?.(request.headers.authorization)) {
          request.exportAuthorized = true;
          return;
        }
        const scope = await signedIn?.(request);
        request.exportAuthorized = scope !== undefined;
        request.exportOnlyMember = scope?.onlyMember;
      },
      config: {
        rateLimit: {
          max: UNVERIFIED_PER_MINUTE,
          timeWindow: 60_000,
          hook: 'preHandler' as const,
          allowList: (request: FastifyRequest) => request.exportAuthorized === true,
        },
      },
    },
    async (request, reply) => {
      if (!request.exportAuthorized) {
        request.log.warn('export refused: no dashboard sign-in and no valid bearer token');
        return refuseBearer(reply);
      }
      const [table, format] = request.params.file.split('.') as [ExportTable, ExportFormat];
      const { from, to } = request.query;
      const only = request.exportOnlyMember;
      // A member's session exports their own data: another member is answered like one that does not exist.
      if (only !== undefined && request.query.member !== undefined && request.query.member !== only) {
        return reply.status(404).send({ error: 'Not Found', message: 'no such member' });
      }
      const member = only ?? request.query.member;
      if (!isDate(from) || !isDate(to)) return reply.status(400).send({ error: 'Bad Request', message: 'from and to must be dates in the calendar from 1900 to 9999, written YYYY-MM-DD' });
      if (from && to && from > to) return reply.status(400).send({ error: 'Bad Request', message: `from (${from}) is after to (${to})` });
      if (member && BigInt(member) > MAX_USER_ID) return reply.status(400).send({ error: 'Bad Request', message: 'member must be a WHOOP user id' });
      if (member) {
        const where = { userId: BigInt(member) };
        const found = await app.db.prisma.whoopUser.findUnique({ where, select: { userId: true } });
        if (!found) return reply.status(404).send({ error: 'Not Found', message: 'no such member' });
      }
      const name = ['whoop', table, member ?? 'all', from ?? 'start', to ?? 'now'].join('-');
      reply
        .header('content-type', format === 'csv' ? 'text/csv; charset=utf-8; header=present' : 'application/json; charset=utf-8')
        .header('content-disposition', `attachment; filename="${name}.${format}"`)
        .header('cache-control', 'no-store');
      return reply.send(Readable.from(exportChunks(app.db, table, format, { member, from, to })));
    },
  );
}
