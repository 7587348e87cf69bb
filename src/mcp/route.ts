// POST /mcp: the Model Context Protocol over Streamable HTTP, stateless (a server and a transport per
// request, no session). `Authorization: Bearer <MCP_TOKEN>` is the operator and sees every member; a member's
// own token (created on their dashboard, src/team/mcp-tokens.ts) sees that member only. Not registered without
// MCP_TOKEN: the operator turns the MCP server on. Requests without the operator's token are rate limited per
// address before any database read: a member's client gets room for a conversation's tool calls, anything
// else the few tries of the other public routes' unverified requests.
import { createRequire } from 'node:module';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { bearerToken, refuseBearer } from '../http/operator-auth.js';
import { isMemberTokenShaped } from '../team/mcp-tokens.js';

const UNVERIFIED_PER_MINUTE = 30;
const MEMBER_TOKEN_PER_MINUTE = 600;
const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

declare module 'fastify' {
  interface FastifyRequest {
    mcpAuthorized?: boolean;
    /** A bearer token shaped like a member's, to be looked up once the rate limit let the request through. */
    mcpMemberToken?: string;
  }
}

export const mcpRoutes: FastifyPluginAsync = async (app) => {
  const token = app.config.mcpToken;
  if (!token) return;
  // Loaded only when enabled: the SDK and its dependencies cost memory a service without MCP_TOKEN need not pay.
  const [{ StreamableHTTPServerTransport }, { buildMcpServer }] = await Promise.all([
    import('@modelcontextprotocol/sdk/server/streamableHttp.js'),
    import('./tools.js'),
  ]);
  const matches = bearerToken(token);
  const context = {
    db: app.db,
    timezone: app.config.sync.timezone,
    connectUrl: app.whoop.connectUrl,
    log: app.log.child({ component: 'mcp' }),
  };

  app.post(
    '/mcp',
    {
      onRequest: async (request) => {
        request.mcpAuthorized = matches(request.headers.authorization);
        const bearer = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
        if (!request.mcpAuthorized && bearer !== undefined && isMemberTokenShaped(bearer)) {
          request.mcpMemberToken = bearer;
        }
      },
      config: {
        rateLimit: {
          max: (request: FastifyRequest) => (request.mcpMemberToken ? MEMBER_TOKEN_PER_MINUTE : UNVERIFIED_PER_MINUTE),
          timeWindow: 60_000,
          hook: 'preHandler' as const,
          allowList: (request: FastifyRequest) => request.mcpAuthorized === true,
        },
      },
    },
    async (request, reply) => {
      const memberToken = request.mcpAuthorized ? undefined : request.mcpMemberToken;
      const member = memberToken === undefined ? undefined : await app.members.mcpTokens.member(memberToken);
      if (!request.mcpAuthorized && member === undefined) {
        request.log.warn('MCP request refused: missing, wrong or revoked bearer token');
        return refuseBearer(reply);
      }
      const scoped = member === undefined ? context : { ...context, onlyMember: member.toString() };
      const server = buildMcpServer(scoped, version);
      // JSON answers rather than an event stream: every tool answers at once, and a proxy cannot buffer them.
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      reply.hijack();
      reply.raw.once('close', () => {
        void transport.close();
        void server.close();
      });
      try {
        await server.connect(transport);
        await transport.handleRequest(request.raw, reply.raw, request.body);
      } catch (error) {
        // The SDK answers protocol errors itself; anything else ends the response without internals.
        request.log.error({ err: error }, 'MCP request failed');
        if (!reply.raw.headersSent) reply.raw.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"Internal Server Error"}');
        else reply.raw.destroy();
      }
    },
  );

  // Stateless: no event stream to open (GET) and no session to end (DELETE).
  const notAllowed = async (_request: FastifyRequest, reply: FastifyReply) =>
    reply
      .status(405)
      .header('allow', 'POST')
      .send({ jsonrpc: '2.0', error: { code: -32000, message: 'Method not allowed: this MCP server is stateless and takes POST only.' }, id: null });
  app.get('/mcp', notAllowed);
  app.delete('/mcp', notAllowed);
};
