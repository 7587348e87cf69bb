// .env.example is the template users copy: it must offer every variable of the README's configuration table
// and leave every secret empty.
//   node --import tsx .ci/image/env-example.ts README ENV_EXAMPLE
import fs from 'node:fs';

const SECRETS = ['POSTGRES_PASSWORD', 'SLACK_SIGNING_SECRET', 'SLACK_BOT_TOKEN', 'WHOOP_CLIENT_SECRET',
  'WHOOP_REFRESH_TOKEN', 'WHOOP_ACCESS_TOKEN', 'METRICS_TOKEN'];

function fail(message: string): never {
  console.error(`image-check: FAIL: ${message}`);
  process.exit(1);
}

const [readme, envExampleFile] = process.argv.slice(2);
if (!readme || !envExampleFile) fail('usage: env-example.ts README ENV_EXAMPLE');
const section = fs.readFileSync(readme, 'utf8').split(/^## /m).find((s) => s.startsWith('Configuration'));
if (!section) fail('README.md has no "## Configuration" section');
const names = new Set<string>();
for (const line of section.split('\n')) {
  // The variables are the backticked names in the first column of the table.
  if (line.startsWith('| `')) for (const m of (line.split('|')[1] ?? '').matchAll(/`([A-Z][A-Z0-9_]+)`/g)) names.add(m[1]!);
}
const lines = fs.readFileSync(envExampleFile, 'utf8').split(/\r?\n/);
const missing = [...names].filter((v) => !lines.some((l) => l.startsWith(`${v}=`) || l.startsWith(`# ${v}=`)));
if (missing.length) fail(`.env.example lacks these configuration variables: ${missing.join(' ')}`);
for (const v of SECRETS) if (!lines.includes(`${v}=`)) fail(`.env.example must leave ${v} empty`);
console.log(`  .env.example: all ${names.size} variables of the README's configuration table; secrets empty`);
