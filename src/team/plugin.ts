// Members, their single-use links, dashboard sessions and MCP tokens, for the routes and messages that need them.
import fp from 'fastify-plugin';
import { memberMcpTokens, type MemberMcpTokens } from './mcp-tokens.js';
import { members, type Members } from './members.js';
import { dashboardSessions, type DashboardSessions } from './sessions.js';
import { memberTickets, type MemberTickets } from './tickets.js';

declare module 'fastify' {
  interface FastifyInstance {
    members: { settings: Members; tickets: MemberTickets; sessions: DashboardSessions; mcpTokens: MemberMcpTokens };
  }
}

export default fp(
  async (app) => {
    app.decorate('members', { settings: members(app.db), tickets: memberTickets(app.db), sessions: dashboardSessions(app.db), mcpTokens: memberMcpTokens(app.db) });
  },
  { name: 'members', dependencies: ['database'] },
);
