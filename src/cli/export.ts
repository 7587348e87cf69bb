// `npm run export -- --table daily --format csv [--member ID] [--since YYYY-MM-DD] [--until YYYY-MM-DD]
// [--output FILE]`: the same export as GET /export/<table>.<format>, written to standard output (or a file),
// straight from the configured database. Only the database is opened: no sync, schedule or WHOOP request starts.
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, readEnvironment } from '../config/config.js';
import { openDatabase } from '../db/database.js';
import { applyMigrations } from '../db/migrate.js';
import { EXPORT_FORMATS, EXPORT_TABLES, exportChunks, type ExportFormat, type ExportTable } from '../export/tables.js';
import { isDay } from '../reports/days.js';
import { describeStartupFailure } from '../startup-failure.js';

const USAGE =
  `usage: npm run export -- --table ${EXPORT_TABLES.join('|')} [--format ${EXPORT_FORMATS.join('|')}] ` +
  '[--member WHOOP_USER_ID] [--since YYYY-MM-DD] [--until YYYY-MM-DD] [--output FILE]';

function fail(message: string, code = 1): never {
  console.error(message);
  process.exit(code);
}


let values;
try {
  ({ values } = parseArgs({
    options: {
      table: { type: 'string', short: 't' },
      format: { type: 'string', short: 'f', default: 'csv' },
      member: { type: 'string', short: 'm' },
      since: { type: 'string' },
      until: { type: 'string' },
      output: { type: 'string', short: 'o' },
      help: { type: 'boolean', short: 'h' },
    },
  }));
} catch (error) {
  fail(`whoop-sync: ${(error as Error).message}\n${USAGE}`, 2);
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const table = values.table as ExportTable;
const format = values.format as ExportFormat;
if (!EXPORT_TABLES.includes(table)) fail(`whoop-sync: --table must be one of ${EXPORT_TABLES.join(', ')}\n${USAGE}`, 2);
if (!EXPORT_FORMATS.includes(format)) fail(`whoop-sync: --format must be csv or json\n${USAGE}`, 2);
if (values.member !== undefined && !/^\d{1,19}$/.test(values.member)) fail(`whoop-sync: --member must be a WHOOP user id (digits)\n${USAGE}`, 2);
for (const name of ['since', 'until'] as const) {
  const value = values[name];
  if (value !== undefined && !isDay(value)) fail(`whoop-sync: --${name} must be a date from 1900 to 9999 written YYYY-MM-DD\n${USAGE}`, 2);
}

let config;
try {
  config = loadConfig(readEnvironment());
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  fail(error.problems.map((problem) => `whoop-sync: invalid configuration: ${problem}`).join('\n'));
}

const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir }).catch((error: unknown) =>
  fail(`whoop-sync: cannot open the database: ${describeStartupFailure(error)}`),
);
let exitCode = 0;
try {
  await applyMigrations(db);
  const { member, since, until } = values;
  if (member !== undefined && !(await db.prisma.whoopUser.findUnique({ where: { userId: BigInt(member) } }))) {
    throw new Error(`no connected member has the WHOOP user id ${member}`);
  }
  const chunks = Readable.from(exportChunks(db, table, format, { member, from: since, to: until }));
  await pipeline(chunks, values.output ? createWriteStream(values.output) : process.stdout);
} catch (error) {
  // A reader that stopped early (`| head`) is not a failure.
  if ((error as NodeJS.ErrnoException).code !== 'EPIPE') {
    console.error(`whoop-sync: export failed: ${(error as Error).message}`);
    exitCode = 1;
  }
} finally {
  await db.close();
}
process.exit(exitCode);
