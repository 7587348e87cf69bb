// A `/sync` through a running container of .ci/image-check, with WHOOP and Slack replaced by the project's
// fakes on the host's loopback interface (the containers share the host's network):
//
//   node --import tsx .ci/image/sync-through.ts ENV_FILE APP_URL [METRICS_TOKEN]
//
// It starts the fakes (one WHOOP member with 60 days of data) and writes the variables that point a service at
// them to ENV_FILE (KEY=VALUE lines, for `docker run --env-file` or compose's .env). Then it waits for the
// service at APP_URL to answer /readyz and to seed its token store from WHOOP_REFRESH_TOKEN, sends a signed
// `/sync 7` and waits for the result posted to Slack, which must count what the fake holds for the run's window.
import { rename, writeFile } from 'node:fs/promises';
import { startFakeSlack } from '../../test/fakes/slack-server.js';
import { startFakeWhoop } from '../../test/fakes/whoop-server.js';
import { fakesEnv, sendCommand } from '../../test/support/environment.js';
import { expectedIds } from '../../test/support/expected.js';

const [envFile, appUrl, metricsToken] = process.argv.slice(2);
if (!envFile || !appUrl) throw new Error('usage: sync-through.ts ENV_FILE APP_URL [METRICS_TOKEN]');

async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const whoop = await startFakeWhoop();
const slack = await startFakeSlack();
try {
  const member = whoop.addMember({ first_name: 'Image' });
  whoop.generate(member.user_id, { days: 60 });
  const env = { ...fakesEnv(whoop, slack), WHOOP_REFRESH_TOKEN: whoop.issueGrant(member.user_id).refresh_token };
  const lines = Object.entries({ ...env, ...(metricsToken ? { METRICS_TOKEN: metricsToken } : {}) });
  await writeFile(`${envFile}.tmp`, lines.map(([k, v]) => `${k}=${v}\n`).join(''));
  await rename(`${envFile}.tmp`, envFile);

  // The first start creates the database and applies the migrations; under compose the database starts first.
  await until(async () => ((await fetch(`${appUrl}/readyz`)).status === 200 ? true : undefined), `${appUrl}/readyz`, 300_000);
  await until(
    async () => whoop.stats.requests.some((r) => r.path.endsWith('/measurement/body') && r.status === 200) || undefined,
    'the service to seed its token store',
    60_000,
  );
  const ack = await sendCommand(appUrl, '7');
  const ackText = ((await ack.json()) as { text?: string }).text;
  if (ack.status !== 200 || !ackText?.startsWith('⏳')) throw new Error(`/sync 7 answered ${ack.status}: ${ackText}`);
  const [message] = await slack.waitForMessages(1, 60_000);
  const status = (await (
    await fetch(`${appUrl}/status`, { headers: metricsToken ? { authorization: `Bearer ${metricsToken}` } : {} })
  ).json()) as { recentRuns: { status: string; window: { start: string; end: string } | null }[] };
  const run = status.recentRuns[0];
  if (run?.status !== 'succeeded' || !run.window) throw new Error(`the run did not succeed: ${JSON.stringify(run)}`);
  const window = { start: new Date(run.window.start), end: new Date(run.window.end) };
  const expected = expectedIds(whoop, member.user_id, window);
  const counts = `cycles ${expected.cycles.length} · recoveries ${expected.recoveries.length} · sleeps ${expected.sleeps.length} · workouts ${expected.workouts.length}`;
  if (!message?.text.startsWith('✅') || !message.text.includes(counts)) {
    throw new Error(`Slack got "${message?.text}", expected ✅ and "${counts}"`);
  }
  console.log(`  /sync 7: acknowledged "${ackText}"; Slack got "${message.text.split('\n')[0]}" (${counts})`);
} finally {
  await whoop.close();
  await slack.close();
}
