// What is configured and what is missing, as sections of rows: the page at `/` shows them and the start-up
// log names the first row that asks for an action ("next step: …"), so both always agree. Counts only:
// nothing here may name a person or carry a secret, because the page is public.
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/config.js';
import type { SlackSocketStatus } from '../slack/socket-mode.js';

export type RowState = 'ok' | 'missing' | 'attention';

export interface SetupRow {
  label: string;
  /** Shown as a text badge; an informational row (a URL to paste) has none. */
  state?: RowState;
  /** One sentence: what is set, or what to do about it. */
  detail: string;
  /** A URL to copy into another system, shown in full. */
  url?: string;
  /** Set when this row asks for an action; the first such row is the start-up log's "next step". */
  nextStep?: string;
}

export interface SetupSection {
  title: string;
  rows: SetupRow[];
}

/** Connected WHOOP accounts; `undefined` when the database could not be asked. */
export interface AccountCounts {
  connected: number;
  reauthorizationRequired: number;
}

export function setupChecklist(
  config: Config,
  accounts: AccountCounts | undefined,
  socket: SlackSocketStatus = { enabled: false },
): SetupSection[] {
  const { publicUrl } = config;
  const connectUrl = `${publicUrl}/oauth/whoop`;
  const whoopConfigured = Boolean(config.whoop.clientId && config.whoop.clientSecret);
  return [
    {
      title: 'Slack',
      rows: [
        config.slack.signingSecret
          ? { label: 'Signing secret', state: 'ok', detail: 'SLACK_SIGNING_SECRET is set: /sync commands are verified and accepted.' }
          : config.slack.appToken
            ? { label: 'Signing secret', state: 'ok', detail: 'Not needed: commands arrive over Socket Mode (SLACK_APP_TOKEN).' }
            : {
              label: 'Signing secret',
              state: 'missing',
              detail: 'SLACK_SIGNING_SECRET is not set: /slack/commands answers 503 until it is.',
              nextStep: "set SLACK_SIGNING_SECRET (your Slack app's Basic Information page) and restart",
            },
        config.slack.botToken
          ? { label: 'Bot token', state: 'ok', detail: 'SLACK_BOT_TOKEN is set: results are posted in the channel with chat.postMessage.' }
          : {
              label: 'Bot token',
              state: 'missing',
              detail: 'SLACK_BOT_TOKEN is not set: results only reach the person who typed /sync, through its response URL.',
              nextStep: "set SLACK_BOT_TOKEN (xoxb-…, your Slack app's OAuth & Permissions page) and restart",
            },
        socketRow(socket),
        { label: 'Request URL of /sync', detail: 'Paste into your Slack app: Slash Commands, /sync, Request URL.', url: `${publicUrl}/slack/commands` },
      ],
    },
    {
      title: 'WHOOP',
      rows: [
        whoopConfigured
          ? { label: 'App credentials', state: 'ok', detail: 'WHOOP_CLIENT_ID and WHOOP_CLIENT_SECRET are set.' }
          : {
              label: 'App credentials',
              state: 'missing',
              detail: 'WHOOP_CLIENT_ID and WHOOP_CLIENT_SECRET are not both set: accounts cannot be connected or refreshed.',
              nextStep: 'set WHOOP_CLIENT_ID and WHOOP_CLIENT_SECRET (your app at developer.whoop.com) and restart',
            },
        { label: 'Redirect URL', detail: 'Paste into your WHOOP developer app: Redirect URLs.', url: `${publicUrl}/oauth/whoop/callback` },
        accountsRow(accounts, connectUrl),
        {
          label: 'Webhook URL (optional)',
          detail: 'Paste into your WHOOP developer app: Webhooks (v2), so new data arrives within seconds; needs a public HTTPS address.',
          url: `${publicUrl}/webhooks/whoop`,
        },
      ],
    },
    {
      title: 'Dashboard',
      rows: [
        config.dashboard.password
          ? { label: 'Dashboard', state: 'ok', detail: 'DASHBOARD_PASSWORD is set: sign in to see the trends.', url: `${publicUrl}/dashboard` }
          : { label: 'Dashboard', detail: 'Off: set DASHBOARD_PASSWORD and restart to see recovery, HRV, sleep and strain trends.' },
      ],
    },
  ];
}

function socketRow(socket: SlackSocketStatus): SetupRow {
  const label = 'Socket Mode';
  if (!socket.enabled) return { label, detail: 'Off (SLACK_APP_TOKEN unset): commands arrive at the Request URL below.' };
  if (socket.state === 'connected') return { label, state: 'ok', detail: 'Connected: /sync commands arrive without a public URL.' };
  if (socket.state === 'refused') {
    return {
      label,
      state: 'attention',
      detail: `Slack refused SLACK_APP_TOKEN (${socket.error ?? 'refused'}).`,
      nextStep: 'set SLACK_APP_TOKEN to a valid app-level token (xapp-…, with connections:write) and restart',
    };
  }
  return { label, state: 'attention', detail: `Not connected yet (${socket.state}${socket.error ? `: ${socket.error}` : ''}); retrying.` };
}

function accountsRow(accounts: AccountCounts | undefined, connectUrl: string): SetupRow {
  const label = 'Connected accounts';
  if (accounts === undefined) {
    return { label, state: 'attention', detail: 'Unknown: the database did not answer.', nextStep: 'check the database (GET /readyz says whether it answers)' };
  }
  const { connected, reauthorizationRequired } = accounts;
  if (connected === 0) {
    return { label, state: 'missing', detail: 'No WHOOP account is connected yet.', nextStep: `connect a WHOOP account at ${connectUrl}` };
  }
  const count = `${connected} connected`;
  if (reauthorizationRequired > 0) {
    return {
      label,
      state: 'attention',
      detail: `${count}, ${reauthorizationRequired} of them must be connected again (WHOOP no longer accepts their grant).`,
      nextStep: `connect the ${reauthorizationRequired} account(s) needing re-authorization again at ${connectUrl}`,
    };
  }
  return { label, state: 'ok', detail: `${count}, none needs re-authorization.` };
}

/** The first action the checklist asks for, or undefined when nothing is missing. */
export function nextStep(sections: SetupSection[]): string | undefined {
  for (const section of sections) {
    for (const row of section.rows) if (row.nextStep) return row.nextStep;
  }
  return undefined;
}

/** The checklist of a running app: reads the account counts (and survives a database that does not answer). */
export async function readSetupChecklist(app: FastifyInstance): Promise<SetupSection[]> {
  let accounts: AccountCounts | undefined;
  try {
    const rows = await app.whoop.tokens.accounts();
    accounts = { connected: rows.length, reauthorizationRequired: rows.filter((row) => row.status === 'reauthorization_required').length };
  } catch (error) {
    app.log.warn({ err: error }, 'setup checklist: could not count the connected accounts');
  }
  return setupChecklist(app.config, accounts, app.slackSocket.status());
}
