// What is configured and what is missing, as sections of rows: the page at `/` shows them and the start-up
// log names the first row that asks for an action ("next step: …"), so both always agree. Counts only:
// nothing here may name a person or carry a secret, because the page is public.
import { historyTime, timeLeftText } from '../sync/history.js';
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
  /** A page of this service to open, shown as a link. */
  link?: string;
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

/** Members whose whole history is stored, of those with a backfill; `line` says how far the others are. */
export interface HistoryCounts {
  complete: number;
  total: number;
  line: string;
}

export function setupChecklist(
  config: Config,
  accounts: AccountCounts | undefined,
  socket: SlackSocketStatus = { enabled: false },
  history?: HistoryCounts,
): SetupSection[] {
  const { publicUrl } = config;
  // Where accounts are connected: the operator's dashboard when it is on, /whoop connect, npm run connect.
  const connectWays = config.dashboard.password
    ? ['/whoop connect in Slack', `Connect on the dashboard at ${publicUrl}/dashboard`, 'npm run connect']
    : ['/whoop connect in Slack', 'npm run connect'];
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
              detail: 'Neither SLACK_SIGNING_SECRET nor SLACK_APP_TOKEN (Socket Mode) is set: /slack/commands answers 503 until one is.',
              // A fresh start lands here first: offer the demo, and the way to Slack that needs no public address.
              nextStep:
                'to try it all with stand-ins for Slack and WHOOP, run npm run demo (in a clone); to connect Slack, ' +
                'set SLACK_APP_TOKEN and SLACK_BOT_TOKEN for Socket Mode (no public address needed), ' +
                "or SLACK_SIGNING_SECRET (your Slack app's Basic Information page) with a public PUBLIC_URL, and restart",
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
        requestUrlRow(config),
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
        accountsRow(accounts, connectWays),
        ...(history && history.total > 0
          ? [{
              label: 'History',
              state: history.complete === history.total ? ('ok' as const) : undefined,
              detail: `${history.complete} of ${history.total} members' whole WHOOP history stored${history.complete === history.total ? '.' : `; ${history.line}.`}`,
            }]
          : []),
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
          ? { label: 'Dashboard', state: 'ok', detail: 'DASHBOARD_PASSWORD is set: sign in to see the trends.', link: `${publicUrl}/dashboard` }
          : { label: 'Dashboard', detail: 'Off: set DASHBOARD_PASSWORD and restart to see recovery, HRV, sleep and strain trends.' },
      ],
    },
  ];
}

/**
 * Whether Slack's servers can send commands to this address: Slack calls only https:// Request URLs, and
 * a loopback, private or .local host is not on the internet.
 */
function reachableFromSlack(publicUrl: string): boolean {
  const url = new URL(publicUrl);
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const local =
    host === 'localhost' ||
    host.endsWith('.localhost') ||
    host.endsWith('.local') ||
    host === '0.0.0.0' ||
    host === '::1' ||
    /^(127|10)\./.test(host) ||
    /^192\.168\./.test(host) ||
    /^172\.(1[6-9]|2\d|3[01])\./.test(host) ||
    /^169\.254\./.test(host) ||
    /^(f[cd][0-9a-f]{2}|fe80):/.test(host) ||
    !/[.:]/.test(host);
  return url.protocol === 'https:' && !local;
}

function requestUrlRow(config: Config): SetupRow {
  const label = 'Request URL of /sync';
  const url = `${config.publicUrl}/slack/commands`;
  if (config.slack.appToken && !config.slack.signingSecret) {
    return { label, detail: 'Not needed: commands arrive over Socket Mode.' };
  }
  if (!reachableFromSlack(config.publicUrl)) {
    return {
      label,
      state: 'attention',
      detail:
        'Slack cannot reach this address (it is not a public https:// one), so pasting it into Slack will not work. ' +
        "Set PUBLIC_URL to the service's public HTTPS address, or use Socket Mode (SLACK_APP_TOKEN), which needs none.",
      url,
    };
  }
  return { label, detail: 'Paste into your Slack app: Slash Commands, /sync, Request URL.', url };
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

function accountsRow(accounts: AccountCounts | undefined, connectWays: string[]): SetupRow {
  const ways = `${connectWays.slice(0, -1).join(', ')} or ${connectWays.at(-1)!}`;
  const label = 'Connected accounts';
  if (accounts === undefined) {
    return { label, state: 'attention', detail: 'Unknown: the database did not answer.', nextStep: 'check the database (GET /readyz says whether it answers)' };
  }
  const { connected, reauthorizationRequired } = accounts;
  if (connected === 0) {
    return { label, state: 'missing', detail: 'No WHOOP account is connected yet.', nextStep: `connect a WHOOP account: ${ways}` };
  }
  const count = `${connected} connected`;
  if (reauthorizationRequired > 0) {
    return {
      label,
      state: 'attention',
      detail: `${count}, ${reauthorizationRequired} of them must be connected again (WHOOP no longer accepts their grant).`,
      nextStep: `connect the ${reauthorizationRequired} account(s) needing re-authorization again: ${ways}`,
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
  let history: HistoryCounts | undefined;
  try {
    const summary = await app.history.summary();
    const incomplete = summary.members.filter((member) => !member.complete);
    const time = historyTime(summary.requestsLeft, app.whoop.budget.limits);
    const percents = incomplete.reduce((sum, member) => sum + member.percent, 0);
    const percent = Math.floor(percents / Math.max(1, incomplete.length));
    history = {
      complete: summary.members.length - incomplete.length,
      total: summary.members.length,
      line: `the rest ${percent} % fetched, ${summary.requestsLeft === 0 && summary.paused > 0 ? 'paused until reconnected' : timeLeftText(time)}`,
    };
  } catch (error) {
    app.log.warn({ err: error }, 'setup checklist: could not read the history progress');
  }
  return setupChecklist(app.config, accounts, app.slackSocket.status(), history);
}
