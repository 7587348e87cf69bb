// `npm run connect`: connects a WHOOP account without a browser on this machine (a NAS, a Raspberry Pi).
// It prints WHOOP's authorization URL; the person approves in any browser, which WHOOP then sends to
// PUBLIC_URL/oauth/whoop/callback?code=…&state=…. That page may never load (the browser is elsewhere);
// its address is all that is needed: pasted here, its code is exchanged and the grant stored exactly as
// the callback route does (src/whoop/connect-account.ts).
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { buildApp } from '../app.js';
import { ConfigError, loadConfig, readEnvironment } from '../config/config.js';
import { loggerOptions } from '../logger.js';
import { describeStartupFailure } from '../startup-failure.js';
import { callbackUrl, connectAccount, NOT_REFRESHABLE } from '../whoop/connect-account.js';
import { WhoopApiError, WhoopOAuthError, WhoopResponseError } from '../whoop/errors.js';
import { authorizeUrl } from '../whoop/oauth.js';
import { oauthStates } from '../whoop/oauth-states.js';

const USAGE = `usage: npm run connect
  Prints WHOOP's authorization URL. Open it in any browser, approve, and paste here the address the browser
  ended on (it starts with PUBLIC_URL/oauth/whoop/callback; the page itself may fail to load).`;

function fail(message: string, code = 1): never {
  console.error(`connect: ${message}`);
  process.exit(code);
}

try {
  const { values } = parseArgs({ options: { help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
} catch (error) {
  fail(`${(error as Error).message}\n${USAGE}`, 2);
}

let config;
try {
  // Only what connecting needs: while this waits for the person, no schedule, digest or Socket Mode
  // connection of a service running beside it may be taken over.
  config = loadConfig({ LOG_LEVEL: 'fatal', ...readEnvironment(), SYNC_SCHEDULES: 'off', DIGEST_DAILY: 'off', DIGEST_WEEKLY: 'off', SLACK_APP_TOKEN: '' });
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  fail(error.problems.map((problem) => `invalid configuration: ${problem}`).join('\nconnect: '));
}
const { clientId } = config.whoop;
if (!clientId || !config.whoop.clientSecret) fail('WHOOP is not configured: set WHOOP_CLIENT_ID and WHOOP_CLIENT_SECRET (see the README, "WHOOP: connecting your account").');

const app = await buildApp(config, { logger: loggerOptions(config, 'stderr'), sharedDatabase: true }).catch((error: unknown) =>
  fail(`start-up failed: ${describeStartupFailure(error)}`),
);
const states = oauthStates(app.db);
let exitCode = 1;
try {
  const redirectUri = callbackUrl(config.publicUrl);
  // This process started the flow: it alone holds the secret that finishes it (a browser holds it in a cookie).
  const { state, browser } = await states.issue(null);
  const url = authorizeUrl(config.whoop.apiUrl, clientId, redirectUri, state);
  console.log(
    [
      '1. Open this address in any browser (a phone or a laptop will do), sign in to WHOOP and approve:',
      '',
      `   ${url}`,
      '',
      `2. WHOOP then sends the browser to ${redirectUri}?code=…`,
      '   That page may fail to load (this machine may not be reachable from the browser): that is fine.',
      '   Copy the whole address from the browser\'s address bar and paste it here (it works once, for 15 minutes).',
      '',
    ].join('\n'),
  );
  const input = createInterface({ input: process.stdin, output: process.stdout, terminal: false });
  const pasted = await new Promise<string | undefined>((resolve) => {
    process.stdout.write('address: ');
    input.once('line', resolve);
    input.once('close', () => resolve(undefined));
  });
  input.close();
  if (pasted === undefined) throw new Error('nothing was pasted (end of input)');
  const query = callbackQuery(pasted.trim());
  if (!query.state || !(await states.consume(query.state, browser))) {
    throw new Error('that address is not from this run, or its 15 minutes are over: run npm run connect again and paste the address WHOOP sent the browser to');
  }
  if (query.error) throw new Error(`WHOOP did not authorize the connection: ${query.errorDescription ?? query.error}`);
  if (!query.code) throw new Error('that address carries no authorization code: paste the whole address, including ?code=…');
  const account = await connectAccount(app, query.code);
  console.log(`✅ Connected as ${account.name} (WHOOP member ${account.userId}). whoop-sync keeps their data in sync.`);
  if (!account.refreshable) console.log(`Warning: ${NOT_REFRESHABLE}`);
  exitCode = 0;
} catch (error) {
  const reason =
    error instanceof WhoopOAuthError
      ? `WHOOP refused the authorization code (${error.message}): run npm run connect again`
      : error instanceof WhoopApiError || error instanceof WhoopResponseError
        ? `WHOOP could not be reached (${error.message}): run npm run connect again in a moment`
        : (error as Error).message;
  console.error(`❌ connect: ${reason}`);
  if (config.logLevel === 'debug' || config.logLevel === 'trace') console.error((error as Error).stack);
} finally {
  await app.close();
}
process.exit(exitCode);

/** The callback's parameters from what was pasted: the whole address, or only its query string. */
function callbackQuery(text: string): { code?: string; state?: string; error?: string; errorDescription?: string } {
  const query = URL.canParse(text) ? new URL(text).searchParams : new URLSearchParams(text.slice(text.indexOf('?') + 1));
  const get = (name: string) => query.get(name) || undefined;
  return { code: get('code'), state: get('state'), error: get('error'), errorDescription: get('error_description') };
}
