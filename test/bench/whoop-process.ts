// The fake WHOOP in a process of its own, for the backfill benchmark. In-process, the fake's own work (it
// filters and serializes every page, and answers over the same event loop) was charged to the sync it
// serves; the real WHOOP's work happens on its servers, and the lower bound counts only its latency.
//
// Parent side: startWhoopProcess() forks this file and talks to it over IPC. Child side (this file run as
// a script): starts the fake with the options from BENCH_WHOOP (JSON), adds one member with generated data,
// issues a grant for it, and answers `stats` requests until it is told to `close` (or its parent goes away).
import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startFakeWhoop, type FakeWhoopData, type FakeWhoopOptions, type FakeWhoopStats, type GenerateOptions, type IssuedGrant, type Member } from '../fakes/whoop-server.js';
import { checkInterrupted, onCleanup, withTimeout } from './util.js';

export interface WhoopProcessOptions {
  whoop: FakeWhoopOptions;
  generate: GenerateOptions;
}

interface Ready {
  type: 'ready';
  url: string;
  clientId: string;
  clientSecret: string;
  member: Member;
  grant: IssuedGrant;
  data: FakeWhoopData;
}

type Request = { type: 'stats' } | { type: 'close' };
type Reply = Ready | { type: 'stats'; stats: FakeWhoopStats } | { type: 'closed' };

export interface WhoopProcess extends Omit<Ready, 'type'> {
  stats(): Promise<FakeWhoopStats>;
  close(): Promise<void>;
}

const require = createRequire(import.meta.url);
const TSX_LOADER = pathToFileURL(require.resolve('tsx')).href;
const ENTRY = fileURLToPath(import.meta.url);

export async function startWhoopProcess(options: WhoopProcessOptions): Promise<WhoopProcess> {
  checkInterrupted();
  const child = fork(ENTRY, [], {
    execArgv: ['--import', TSX_LOADER],
    env: { ...process.env, BENCH_WHOOP: JSON.stringify(options) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const kill = onCleanup(`fake WHOOP process ${child.pid}`, () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const next = <T extends Reply['type']>(type: T) =>
    withTimeout(
      new Promise<Extract<Reply, { type: T }>>((resolve, reject) => {
        const onMessage = (message: Reply) => {
          if (message.type !== type) return;
          child.off('message', onMessage);
          child.off('exit', onExit);
          resolve(message as Extract<Reply, { type: T }>);
        };
        const onExit = (code: number | null) => reject(new Error(`the fake WHOOP process exited (${code}) before answering ${type}`));
        child.on('message', onMessage);
        child.once('exit', onExit);
      }),
      60_000,
      `fake WHOOP process: ${type}`,
    );
  const send = (request: Request) => child.send(request);
  const { type: _type, ...ready } = await next('ready');
  return {
    ...ready,
    async stats() {
      const answer = next('stats');
      send({ type: 'stats' });
      return (await answer).stats;
    },
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        const closed = next('closed').catch(() => undefined);
        send({ type: 'close' });
        await closed;
      }
      await kill();
    },
  };
}

async function main(): Promise<void> {
  const options = JSON.parse(process.env.BENCH_WHOOP ?? '{}') as WhoopProcessOptions;
  const whoop = await startFakeWhoop(options.whoop);
  const member = whoop.addMember({ first_name: 'Jo', last_name: 'Tester', email: 'jo@example.com' });
  whoop.generate(member.user_id, options.generate);
  const reply = (message: Reply) => process.send!(message);
  process.on('message', (request: Request) => {
    if (request.type === 'stats') reply({ type: 'stats', stats: whoop.stats });
    if (request.type === 'close') void whoop.close().finally(() => {
      reply({ type: 'closed' });
      process.disconnect();
    });
  });
  // Orphaned (the benchmark was killed): go too.
  process.on('disconnect', () => void whoop.close().finally(() => process.exit(0)));
  reply({
    type: 'ready',
    url: whoop.url,
    clientId: whoop.clientId,
    clientSecret: whoop.clientSecret,
    member,
    grant: whoop.issueGrant(member.user_id),
    data: whoop.data,
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1] && process.send) {
  main().catch((error: unknown) => {
    console.error(`fake WHOOP process: ${(error as Error).stack ?? String(error)}`);
    process.exit(1);
  });
}
