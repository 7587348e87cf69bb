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
import { DEMO_SIGNING_SECRET } from './demo-secret.js';

const USAGE = `usage: npm run slash -- [--url URL] [--channel C…] [--user U…] [--wait SECONDS] [text]
  text        what follows /sync, e.g. 7 (default: nothing, i.e. 3 days)
  --url       the service's base URL (default: PUBLIC_URL, i.e. http://localhost:$PORT)
  --channel   the Slack channel id the command is "typed" in; a service with SLACK_BOT_TOKEN then posts
              the result there (chat.postMessage). Without it the result comes back here.
  --user      the Slack user id that "types" it (default U0SLASHCLI; mind SLACK_ALLOWED_USER_IDS)
  --wait      how long to wait for the result, in seconds (default 120)
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
if (!config.slack.signingSecret) console.error('slash: SLACK_SIGNING_SECRET is not set: signing with the demo\'s secret (works with npm run demo)');

const responses = await listenForResponses();
const text = args.positionals.join(' ');
const body = new URLSearchParams({
  token: 'unused-verification-token',
  team_id: 'T0SLASHCLI',
  team_domain: 'whoop-sync-slash',
  ...(channel ? { channel_id: channel, channel_name: channel } : {}),
  user_id: user,
  user_name: 'slash-cli',
  command: '/sync',
  text,
  api_app_id: 'A0SLASHCLI',
  is_enterprise_install: 'false',
  response_url: responses.url,
  trigger_id: `${Date.now()}.${randomBytes(6).toString('hex')}`,
}).toString();
const timestamp = Math.floor(Date.now() / 1000);
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
const result = await responses.next(waitSeconds * 1000);
await responses.close();
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

function refusal(status: number, message: string): string {
  switch (status) {
    case 401:
      return `whoop-sync refused the signature (${message}): the signing secret used here is not the service's. Set SLACK_SIGNING_SECRET to the value the service has.`;
    case 503:
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
