// Buttons: Slack sends a `block_actions` payload to POST /slack/interactivity (signed like commands, checked the
// same way, replays refused) or as an `interactive` envelope over Socket Mode. Either way it is acknowledged at
// once with an empty 200 (Slack's limit is 3 s) and acted on afterwards. The only button is `/whoop forget`'s
// confirmation, whose value is a single-use ticket for the person who asked: a replayed, forged or foreign press
// spends nothing and changes nothing.
import type { FastifyBaseLogger, FastifyInstance, FastifyPluginAsync } from 'fastify';
import { SlackPoster } from './poster.js';
import { refuseSignature, signedSlackRoute } from './signed-request.js';
import type { SlackWorkspace } from './workspace.js';
import { checkFailedText, FORGET_ACTION, forgetExpiredText, forgottenText } from './whoop-messages.js';

/** block_actions payloads carry the message the button was in; a few kilobytes. */
const BODY_LIMIT = 64 * 1024;

export interface ButtonPress {
  userId: string;
  actionId: string;
  value: string;
  responseUrl: string | null;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Button presses to act on once the acknowledgement is sent. */
    pressed?: ButtonPress[];
    /** Presses that could not be checked for replays (the database did not answer): only told so. */
    unchecked?: ButtonPress[];
  }
}

/**
 * The presses of a block_actions payload from this service's workspace and app (anything else: none). Ids and
 * values are bounded and checked.
 */
export function buttonPresses(payload: unknown, workspace: Pick<SlackWorkspace, 'foreign'>): ButtonPress[] {
  if (typeof payload !== 'object' || payload === null) return [];
  const fields = payload as Record<string, unknown>;
  const { type, user, actions, response_url: responseUrl, team, api_app_id: appId } = fields;
  const teamId = (team as { id?: unknown } | undefined)?.id;
  const ids: Record<string, unknown> = { team_id: teamId, api_app_id: appId };
  if (workspace.foreign({ get: (name) => (typeof ids[name] === 'string' ? (ids[name] as string) : null) })) return [];
  const userId = (user as { id?: unknown } | undefined)?.id;
  if (type !== 'block_actions' || typeof userId !== 'string' || !/^[UW][A-Z0-9]{1,31}$/.test(userId) || !Array.isArray(actions)) return [];
  const url = typeof responseUrl === 'string' && /^https?:\/\/[^\s\0]{1,2000}$/.test(responseUrl) ? responseUrl : null;
  return actions.slice(0, 5).flatMap((action: unknown) => {
    const { action_id: actionId, value } = (action ?? {}) as Record<string, unknown>;
    if (typeof actionId !== 'string' || typeof value !== 'string' || actionId.length > 255 || value.length > 2000) return [];
    return [{ userId, actionId, value, responseUrl: url }];
  });
}

/** Forgets a member as `npm run forget` does (src/members/forget.ts, wired in by app.ts). */
export type ForgetMember = (userId: bigint) => Promise<unknown>;

export interface ActionDeps {
  app: FastifyInstance;
  poster: SlackPoster;
  forget: ForgetMember;
  log: FastifyBaseLogger;
}

/** Acts on one press. Never throws: a failure is logged and told to the person when possible. */
export async function actOn(deps: ActionDeps, press: ButtonPress): Promise<void> {
  const { app, poster, forget, log } = deps;
  if (press.actionId !== FORGET_ACTION) return;
  const tell = async (text: string) => {
    if (press.responseUrl) await poster.postToResponseUrl(press.responseUrl, text, undefined, 'ephemeral');
  };
  try {
    const ticket = await app.members.tickets.redeem('forget', press.value);
    if (!ticket || ticket.slackUserId !== press.userId || ticket.userId === null) {
      log.warn({ userId: press.userId }, '/whoop forget confirmation refused: unknown, expired, used, or another person\'s');
      await tell(forgetExpiredText());
      return;
    }
    await forget(ticket.userId);
    app.whoop.guard.forget(ticket.userId);
    log.info({ userId: ticket.userId.toString(), slackUserId: press.userId }, 'member forgotten at their request (/whoop forget)');
    await tell(forgottenText());
  } catch (error) {
    log.error({ err: error, userId: press.userId }, '/whoop forget could not be completed');
  }
}

export const interactivityRoutes: FastifyPluginAsync<{ forget: ForgetMember }> = async (app, { forget }) => {
  const { signingSecret } = app.config.slack;
  const poster = new SlackPoster(app.config.slack.botToken, app.config.slack.apiUrl);
  const deps: ActionDeps = { app, poster, forget, log: app.log.child({ component: 'slack' }) };

  app.post('/slack/interactivity', signedSlackRoute(app, BODY_LIMIT), async (request, reply) => {
    const { raw, verdict } = request.slack!;
    if (!signingSecret) return reply.status(503).send({ error: 'Service Unavailable', message: 'SLACK_SIGNING_SECRET is not configured' });
    if (!verdict.ok && verdict.reason !== 'replay_check_failed') return refuseSignature(app, request, reply, verdict);
    let payload: unknown;
    try {
      payload = JSON.parse(new URLSearchParams(raw.toString('utf8')).get('payload') ?? '');
    } catch {
      return reply.status(400).send({ error: 'Bad Request', message: 'payload is not JSON' });
    }
    const presses = buttonPresses(payload, app.slackWorkspace);
    // Slack shows an error for anything but a 200 to a signed request: the person is told instead, and nothing
    // was spent, so pressing again works once the database answers.
    if (!verdict.ok) request.unchecked = presses;
    else request.pressed = presses;
    return reply.status(200).send('');
  });

  // Acting on a press starts only once its acknowledgement is on the wire.
  app.addHook('onResponse', async (request) => {
    for (const press of request.pressed ?? []) void actOn(deps, press);
    for (const { responseUrl } of request.unchecked ?? []) {
      if (responseUrl) void deps.poster.postToResponseUrl(responseUrl, checkFailedText(), undefined, 'ephemeral').catch(() => {});
    }
  });
};
