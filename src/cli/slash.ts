// `npm run slash -- [options] [text]`: sends `/sync <text>` to a running whoop-sync exactly as Slack does
// (form body, signed with SLACK_SIGNING_SECRET), prints the acknowledgement, then the result as it arrives
// on a response URL this command serves on 127.0.0.1. The "verify it works" step of a deployment, and the
// second half of `npm run demo`.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, readEnvironment } from '../config/config.js';
import { signSlackRequest } from '../slack/signature.js';
import { SlackWorkspace } from '../slack/workspace.js';
import { DEMO_SIGNING_SECRET, DEMO_TEAM_ID } from './demo-secret.js';

const USAGE = `usage: npm run slash -- [--url URL] [--channel C…] [--user U…] [--wait SECONDS] [text]
  text        what follows /sync, e.g. 7 (default: nothing, i.e. 3 days)
  --url       the service's base URL (default: PUBLIC_URL, i.e. http://localhost:$PORT)
  --channel   the Slack channel id the command is "typed" in; a service with SLACK_BOT_TOKEN then posts
              the result there (chat.postMessage). Without it the result comes back here.
  --user      the Slack user id that "types" it (default U0SLASHCLI; mind SLACK_ALLOWED_USER_IDS)
  --wait      how long to wait for the result, in seconds (default 120); with --channel the wait ends as
              soon as the service's /status says the result was delivered (METRICS_TOKEN is sent if set)
The signing secret is SLACK_SIGNING_SECRET, or the demo's when it is unset.`;

const ACK_TIMEOUT_MS = 10_000;

function fail(message: string, code = 1): never {
  console.error(`slash: ${message}`);
  process.exit(code);
}

let args;
try {
  args = parseArgs({
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      channel: { type: 'string' },
      user: { type: 'string', default: 'U0SLASHCLI' },
      wait: { type: 'string', default: '120' },
      help: { type: 'boolean', short: 'h' },
    },
  });
} catch (error) {
  fail(`${(error as Error).message}\n${USAGE}`, 2);
}
if (args.values.help) {
  console.log(USAGE);
  process.exit(0);
}
const { channel, user } = args.values;
const waitSeconds = Number(args.values.wait);
if (!Number.isInteger(waitSeconds) || waitSeconds < 1 || waitSeconds > 1800) fail(`--wait must be a whole number of seconds from 1 to 1800\n${USAGE}`, 2);
for (const [name, value] of [['--channel', channel], ['--user', user]] as const) {
  if (value !== undefined && !/^[A-Z0-9]{1,32}$/.test(value)) fail(`${name} must be a Slack id (upper-case letters and digits, e.g. C0123ABCD)`, 2);
}

let config;
try {
  config = loadConfig({ LOG_LEVEL: 'warn', ...readEnvironment() });
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  fail(error.problems.map((problem) => `invalid configuration: ${problem}`).join('\nslash: '));
}
let base = config.publicUrl;
if (args.values.url !== undefined) {
  if (!/^https?:\/\/[^\s]+$/.test(args.values.url) || !URL.canParse(args.values.url)) fail(`--url must be an http:// or https:// URL`, 2);
  base = args.values.url.replace(/\/+$/, '');
}
const secret = config.slack.signingSecret ?? DEMO_SIGNING_SECRET;
const { metricsToken } = config;
if (!config.slack.signingSecret) console.error('slash: SLACK_SIGNING_SECRET is not set: signing with the demo\'s secret (works with npm run demo)');

// The service refuses commands from another workspace or app: send the ones it expects, as Slack would.
const workspace = new SlackWorkspace(config.slack);
if (config.slack.botToken) await workspace.learn(config.slack.botToken, config.slack.apiUrl, { info: () => {}, warn: (message: string) => console.error(`slash: ${message}`) });

const responses = await listenForResponses();
const text = args.positionals.join(' ');
const body = new URLSearchParams({
  token: 'unused-verification-token',
  team_id: workspace.teamId ?? DEMO_TEAM_ID,
  team_domain: 'whoop-sync-slash',
  ...(channel ? { channel_id: channel, channel_name: channel } : {}),
  user_id: user,
  user_name: 'slash-cli',
  command: '/sync',
  text,
  api_app_id: workspace.appId ?? 'A0SLASHCLI',
  is_enterprise_install: 'false',
  response_url: responses.url,
  trigger_id: `${Date.now()}.${randomBytes(6).toString('hex')}`,
}).toString();
const sentAt = Date.now();
const timestamp = Math.floor(sentAt / 1000);
const endpoint = `${base}/slack/commands`;
console.log(`→ /sync ${text}`.trimEnd() + `  (POST ${endpoint})`);

let response: Response;
try {
  response = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': String(timestamp),
      'x-slack-signature': signSlackRequest(secret, timestamp, body),
    },
    body,
    redirect: 'manual',
    signal: AbortSignal.timeout(ACK_TIMEOUT_MS),
  });
} catch (error) {
  await responses.close();
  fail(`cannot reach whoop-sync at ${base}: ${networkReason(error)}. Is it running (npm start, or npm run demo)? Pass --url if it listens elsewhere.`);
}
const answer = await response.text();
const message = (() => {
  try {
    const parsed = JSON.parse(answer) as { text?: unknown; message?: unknown };
    return typeof parsed.text === 'string' ? parsed.text : typeof parsed.message === 'string' ? parsed.message : answer;
  } catch {
    return answer;
  }
})();
if (response.status !== 200) {
  await responses.close();
  fail(refusal(response.status, message));
}

console.log(`ack: ${plain(message)}`);
if (!message.startsWith('⏳')) {
  // Help, a refusal by an allowlist, or a database that did not answer: nothing will follow.
  await responses.close();
  process.exit(1);
}
if (channel) {
  console.log(
    `The result goes to channel ${channel} (chat.postMessage) when the service has SLACK_BOT_TOKEN and the bot is in that channel; ` +
      `it comes here only if that post fails. Waiting up to ${waitSeconds} s…`,
  );
}
const abandon = new AbortController();
const result = await Promise.race([
  responses.next(waitSeconds * 1000),
  ...(channel ? [untilReported(abandon.signal)] : []),
]);
abandon.abort();
await responses.close();
if (typeof result === 'object') {
  // The service's /status says the result went out (or was given up), and none came here.
  if (result.state === 'delivered') {
    console.log(`The service posted the result in channel ${channel}.`);
    process.exit(0);
  }
  fail(`the service gave up delivering the result${result.error ? `: ${result.error}` : ''}. Its log says more.`);
}
if (result === undefined) {
  if (channel) {
    console.log(`No result came back here: look in channel ${channel}, where the service posted it.`);
    process.exit(0);
  }
  fail(
    `no result arrived within ${waitSeconds} s at ${responses.url}. A service on another machine cannot reach this address: ` +
      'run again with --channel C… (a channel the bot is in) and the result is posted there. Otherwise the service log says why.',
  );
}
console.log(`result: ${plain(result)}`);
process.exit(result.startsWith('✅') ? 0 : 1);

/**
 * With --channel the result is posted in the channel, which this tool cannot see: it asks the service's
 * /status instead, for the Slack run requested since this command was sent, until its result was delivered
 * or given up. A /status this tool may not read (METRICS_TOKEN) leaves only the --wait.
 */
async function untilReported(signal: AbortSignal): Promise<{ state: string; error: string | null }> {
  const never = new Promise<never>(() => {});
  const headers: Record<string, string> = metricsToken ? { authorization: `Bearer ${metricsToken}` } : {};
  while (!signal.aborted) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const reply = await fetch(`${base}/status`, { headers, signal }).catch(() => undefined);
    if (reply && !reply.ok) return never;
    const status = (await reply?.json().catch(() => undefined)) as
      | { recentRuns?: { trigger: string; requestedAt: string; report: { state: string; error: string | null } }[] }
      | undefined;
    const run = status?.recentRuns?.find((candidate) => candidate.trigger === 'slack' && Date.parse(candidate.requestedAt) >= sentAt - 1000);
    if (run && (run.report.state === 'delivered' || run.report.state === 'gave_up')) {
      // A fallback to the response URL arrives here at about the same time: give it a moment to win the race.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      return run.report;
    }
  }
  return never;
}

function refusal(status: number, message: string): string {
  switch (status) {
    case 401:
      return `whoop-sync refused the signature (${message}): the signing secret used here is not the service's. Set SLACK_SIGNING_SECRET to the value the service has.`;
    case 503:
      if (/Socket Mode/.test(message)) {
        return (
          `whoop-sync answered 503 (${message}): it takes /sync from Slack over Socket Mode, with no signing secret, so ` +
          'there is nothing here to send a signed request to. Type /sync in Slack; in `npm run demo -- --socket` the Slack ' +
          "stand-in sends one itself (its ack and result are printed in the demo's terminal)."
        );
      }
      return `whoop-sync answered 503 (${message}): set SLACK_SIGNING_SECRET in the service's environment and restart it.`;
    case 404:
      return `${endpoint} answered 404: is ${base} whoop-sync?`;
    case 429:
      return 'whoop-sync answered 429: too many refused requests from this address; wait a minute.';
    default:
      return `whoop-sync answered HTTP ${status}: ${message.slice(0, 500)}`;
  }
}

function networkReason(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if ((error as Error).name === 'TimeoutError') return `no answer within ${ACK_TIMEOUT_MS / 1000} s`;
  if (cause?.code === 'ECONNREFUSED') return 'connection refused';
  if (cause?.code === 'ENOTFOUND') return 'unknown host';
  return cause?.message ?? (error as Error).message;
}

/** Slack mrkdwn as a terminal shows it: mentions and links as text, entities decoded. */
function plain(text: string): string {
  return text
    .replace(/<@([A-Z0-9]+)>/g, '@$1')
    .replace(/<([^<>|]+)\|([^<>]+)>/g, '$2 ($1)')
    .replace(/<([^<>]+)>/g, '$1')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** The response URL: accepts Slack-style JSON posts ({ text }) on one secret path, on loopback. */
async function listenForResponses() {
  const path = `/slash-response/${randomBytes(12).toString('hex')}`;
  const received: string[] = [];
  let wake: (() => void) | undefined;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= 64 * 1024) chunks.push(chunk);
    });
    req.on('end', () => {
      let posted: unknown;
      try {
        posted = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        posted = undefined;
      }
      const postedText = (posted as { text?: unknown } | undefined)?.text;
      if (req.method !== 'POST' || req.url !== path || size > 64 * 1024 || typeof postedText !== 'string') {
        res.writeHead(req.url === path ? 400 : 404).end();
        return;
      }
      received.push(postedText);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      wake?.();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${path}`,
    next(timeoutMs: number): Promise<string | undefined> {
      if (received.length > 0) return Promise.resolve(received.shift());
      return new Promise((resolve) => {
        const timer = setTimeout(() => resolve(undefined), timeoutMs);
        wake = () => {
          clearTimeout(timer);
          resolve(received.shift());
        };
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
