// `npm run forget -- --member ID [--yes]`: a member leaves. Shows what whoop-sync holds about them, asks for
// confirmation (unless --yes), revokes the grant at WHOOP and deletes it all (src/members/forget.ts), then
// prints what was removed. Exits 1 when WHOOP could not be asked to revoke (the data is deleted anyway).
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { buildApp } from '../app.js';
import { ConfigError, loadConfig, readEnvironment } from '../config/config.js';
import { loggerOptions } from '../logger.js';
import { forgetMember, memberData, type MemberData } from '../members/forget.js';
import { describeStartupFailure } from '../startup-failure.js';
import { RESOURCES } from '../sync/collections.js';
import { plural } from '../util/plural.js';

const USAGE = 'usage: npm run forget -- --member WHOOP_USER_ID [--yes]';

function fail(message: string, code = 1): never {
  console.error(message);
  process.exit(code);
}

const OPTIONS = { member: { type: 'string', short: 'm' }, yes: { type: 'boolean', short: 'y' }, help: { type: 'boolean', short: 'h' } } as const;
let values: ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>['values'];
try {
  ({ values } = parseArgs({ options: OPTIONS }));
} catch (error) {
  fail(`whoop-sync: ${(error as Error).message}\n${USAGE}`, 2);
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
if (!values.member || !/^\d{1,19}$/.test(values.member)) fail(`whoop-sync: --member must be a WHOOP user id (digits)\n${USAGE}`, 2);
const userId = BigInt(values.member);

let config;
try {
  config = loadConfig({ LOG_LEVEL: 'fatal', ...readEnvironment(), SYNC_SCHEDULES: 'off' });
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  fail(error.problems.map((problem) => `whoop-sync: invalid configuration: ${problem}`).join('\n'));
}

const records = (data: Pick<MemberData, 'records'>) => RESOURCES.map((name) => `${data.records[name]} ${name}`).join(', ');

async function confirmed(data: MemberData): Promise<boolean> {
  console.log(`${data.name} (WHOOP member ${data.userId}): ${records(data)}; profile${data.hasToken ? ' and WHOOP grant' : ''}.`);
  if (values.yes) return true;
  if (!process.stdin.isTTY) fail('whoop-sync: not deleting without confirmation: run it in a terminal, or add --yes', 2);
  const prompt = createInterface({ input: process.stdin, output: process.stdout });
  const answer = await prompt.question('Revoke whoop-sync\'s access at WHOOP and delete all of this for good? Type yes to confirm: ');
  prompt.close();
  return answer.trim().toLowerCase() === 'yes';
}

const app = await buildApp(config, { logger: loggerOptions(config, 'stderr') }).catch((error: unknown) =>
  fail(`whoop-sync: start-up failed: ${describeStartupFailure(error)}`),
);
let exitCode = 0;
try {
  const data = await memberData(app.db, userId);
  if (!data) throw new Error(`no connected member has the WHOOP user id ${userId}`);
  if (!(await confirmed(data))) {
    console.log('Nothing was deleted.');
  } else {
    const gone = await forgetMember({ db: app.db, api: app.whoop.api }, userId);
    if (!gone) throw new Error(`member ${userId} was removed meanwhile`);
    console.log(`Removed ${gone.name} (WHOOP member ${gone.userId}):`);
    console.log(`  records: ${records(gone)}`);
    console.log(`  profile, ${plural(gone.tokens, 'stored grant')}, ${plural(gone.webhookEvents, 'webhook delivery', 'webhook deliveries')}`);
    console.log(`  ${plural(gone.runErrorsRedacted, 'sync run error')} naming them replaced`);
    const { revoke } = gone;
    if (revoke.outcome === 'revoked') console.log('  WHOOP: access revoked (whoop-sync can no longer read their data)');
    else if (revoke.outcome === 'already') console.log('  WHOOP: the grant had already ended (nothing to revoke)');
    else if (revoke.outcome === 'no_token') console.log('  WHOOP: no grant was stored (nothing to revoke)');
    else if (revoke.outcome === 'failed') {
      console.error(`❌ WHOOP could not be asked to revoke the grant: ${revoke.error}`);
      console.error('   The data is deleted. Remove whoop-sync from the member\'s connected apps in the WHOOP app to end the grant.');
      exitCode = 1;
    }
  }
} catch (error) {
  console.error(`❌ forget failed: ${(error as Error).message}`);
  exitCode = 1;
} finally {
  await app.close();
}
process.exit(exitCode);
