// Which Slack workspace and app this service answers. A valid signature only proves the command came
// through an app holding the signing secret; an app distributed to several workspaces, or a secret shared
// between apps, would otherwise let another workspace start syncs and read their results. SLACK_TEAM_ID and
// SLACK_APP_ID say which to accept; without SLACK_TEAM_ID, the bot token's own workspace (auth.test) is the
// one. The app id is not learned: the bot scopes this app asks for (see the manifests) cannot read it.
import fp from 'fastify-plugin';
import { LogLevel, WebClient } from '@slack/web-api';
import type { Config } from '../config/config.js';

/** auth.test answers in milliseconds; a Slack that does not must not hold the start for long. */
const AUTH_TEST_TIMEOUT_MS = 5_000;

declare module 'fastify' {
  interface FastifyInstance {
    slackWorkspace: SlackWorkspace;
  }
}

/** Where learning reports (the service's logger, or the slash command's stderr). */
interface WorkspaceLog {
  info(fields: object, message: string): void;
  warn(message: string): void;
}

export class SlackWorkspace {
  teamId: string | undefined;
  readonly appId: string | undefined;

  constructor(ids: { teamId: string | undefined; appId: string | undefined }) {
    this.teamId = ids.teamId;
    this.appId = ids.appId;
  }

  /** Why a command must be refused (naming the field that differs), or undefined when it is ours. */
  foreign(fields: { get(name: string): string | null }): 'team' | 'app' | undefined {
    if (this.teamId !== undefined && fields.get('team_id') !== this.teamId) return 'team';
    if (this.appId !== undefined && fields.get('api_app_id') !== this.appId) return 'app';
    return undefined;
  }

  /** Learns the bot token's workspace when SLACK_TEAM_ID is not set; a failure leaves the team unchecked. */
  async learn(botToken: string, apiUrl: string, log: WorkspaceLog): Promise<void> {
    if (this.teamId !== undefined) return;
    const client = new WebClient(botToken, {
      slackApiUrl: apiUrl,
      timeout: AUTH_TEST_TIMEOUT_MS,
      retryConfig: { retries: 0 },
      logLevel: LogLevel.ERROR,
    });
    try {
      const answer = await client.auth.test();
      if (typeof answer.team_id === 'string' && /^[TE][A-Z0-9]{2,31}$/.test(answer.team_id)) {
        this.teamId = answer.team_id;
        log.info({ teamId: this.teamId }, `Slack workspace ${this.teamId} (from the bot token): commands from other workspaces are refused`);
      }
    } catch (error) {
      const code = (error as { data?: { error?: string } }).data?.error ?? (error as Error).message;
      log.warn(`Slack auth.test failed (${code}): commands are not checked against the bot's workspace; set SLACK_TEAM_ID to check them`);
    }
  }
}

export default fp<{ config: Config }>(
  async (app, { config }) => {
    const { teamId, appId, botToken, apiUrl } = config.slack;
    const workspace = new SlackWorkspace({ teamId, appId });
    app.decorate('slackWorkspace', workspace);
    // Awaited, so no command is answered before the workspace is known.
    if (botToken) app.addHook('onReady', () => workspace.learn(botToken, apiUrl, app.log.child({ component: 'slack' })));
  },
  { name: 'slack-workspace' },
);
