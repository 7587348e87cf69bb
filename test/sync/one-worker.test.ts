// One worker per database, across real service processes and the CLI on one database: when the worker
// is killed in the middle of a 365-day sync, the other process takes over and delivers the result once; the
// killed one is started again, and the fake WHOOP, enforcing a budget of requests a minute (80 here), never
// sees more than that from the two processes and the CLI together.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendCommand } from '../support/environment.js';
import { processFixture, type ProcessFixture } from '../support/process-fixture.js';
import { runSyncCli, startServerProcess, type ServerProcess } from '../support/server-process.js';
import { until } from '../support/until.js';

const PER_MINUTE = 80;
const isWorker = (process: ServerProcess) => process.output().includes('this process is the worker');

describe('one worker per database', () => {
  let fixture: ProcessFixture | undefined;
  const started: ServerProcess[] = [];

  beforeAll(async () => {
    // About 62 requests for a 365-day sync: the one killed and its resumption together need more than a
    // minute's budget.
    fixture = await processFixture(
      { WHOOP_RATE_LIMIT_PER_MINUTE: String(PER_MINUTE) },
      { whoop: { rateLimit: { perMinute: PER_MINUTE }, latencyMs: 30 }, days: 400 },
    );
  });
  afterAll(async () => {
    for (const process of started) await process.stop('SIGKILL');
    await fixture?.close();
  });

  it('a killed worker is replaced by the other process, which delivers the result once; all stay within the budget', async () => {
    const { whoop, slack, env } = fixture!;
    const first = startServerProcess(env);
    started.push(first);
    await first.listening();
    await until(() => isWorker(first), 'the first process to become the worker');
    const second = startServerProcess(env);
    started.push(second);
    const url = await second.listening();

    // Recorded by the second process, executed by the first, which is killed in the middle.
    const seen = whoop.stats.requests.length;
    expect((await sendCommand(url, '365')).status).toBe(200);
    const apiRequests = () => whoop.stats.requests.slice(seen).filter((r) => r.path.startsWith('/developer/')).length;
    await until(() => apiRequests() >= 30, 'the first process to be in the middle of the sync', 30_000);
    first.child.kill('SIGKILL');
    await first.exited;
    await until(() => isWorker(second), 'the second process to take over', 10_000);
    // The killed process is started again: two service processes and the CLI share the database and the budget.
    const third = startServerProcess(env);
    started.push(third);
    await third.listening();

    // The CLI records its run and waits: the second process executes it after the resumed sync.
    const cli = await runSyncCli(['--days', '3'], env);
    expect(cli.stderr).toBe('');
    expect(cli.stdout).toMatch(/^✅ synced the last 3 days/);
    const [message] = await slack.waitForMessages(1, 90_000);
    expect(message!.text).toMatch(/^✅ Sync for <@U0ALICE001> done in .*: last 365 days/);

    const runs = await fixture!.runs();
    expect(runs.map((run) => [run.trigger, run.status])).toEqual([['slack', 'succeeded'], ['cli', 'succeeded']]);
    await until(async () => (await fixture!.runs())[0]!.reportedAt !== null, 'the delivery to be recorded');
    expect(slack.messages).toHaveLength(1);
    // More than a minute's budget was needed, and WHOOP never had to refuse a request.
    expect(apiRequests()).toBeGreaterThan(PER_MINUTE);
    expect(whoop.stats.rateLimited).toBe(0);
    expect(whoop.stats.peakPerMinute).toBeLessThanOrEqual(PER_MINUTE);
    expect(isWorker(third)).toBe(false);
    expect((await second.stop('SIGTERM')).code).toBe(0);
    expect((await third.stop('SIGTERM')).code).toBe(0);
  }, 150_000);
});
