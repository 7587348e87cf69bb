// `npm run demo [-- --port N]`: see demo.ts. DEMO_DATABASE_URL=postgres://… uses that (throwaway) database
// instead of the embedded one. Ctrl-C stops everything and deletes the demo's directory.
import { parseArgs } from 'node:util';
import { HISTORY_DAYS, startDemo } from './demo.js';

const USAGE =
  'usage: npm run demo -- [--port N] [--socket]   (default 3000; --socket: Slack over Socket Mode; ' +
  'DEMO_DATABASE_URL=postgres://… for a PostgreSQL server)';

let port = 3000;
let socket = false;
try {
  const { values } = parseArgs({ options: { port: { type: 'string' }, socket: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  socket = values.socket ?? false;
  if (values.port !== undefined) {
    port = Number(values.port);
    if (!/^\d+$/.test(values.port) || port < 1 || port > 65535) throw new Error('--port must be a port number from 1 to 65535');
  }
} catch (error) {
  console.error(`demo: ${(error as Error).message}\n${USAGE}`);
  process.exit(2);
}

console.log('demo: starting whoop-sync with a simulated WHOOP member and a local stand-in for Slack…');
const databaseUrl = process.env.DEMO_DATABASE_URL || undefined;
const demo = await startDemo({ port, socket, databaseUrl }).catch((error: Error) => {
  console.error(`demo: ${error.message}`);
  process.exit(1);
});

let stopping = false;
const stop = (signal: NodeJS.Signals) => {
  if (stopping) {
    // A second Ctrl-C: do not wait for the graceful shutdown.
    demo.service.kill('SIGKILL');
    process.exit(130);
  }
  stopping = true;
  console.log(`\ndemo: ${signal}: stopping the service and the simulations, deleting ${demo.directory}`);
  demo.close().then(
    () => process.exit(0),
    (error: Error) => {
      console.error(`demo: ${error.message}`);
      process.exit(1);
    },
  );
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
demo.service.once('exit', (code) => {
  if (stopping) return;
  console.error(`demo: the service exited (code ${code}); stopping`);
  stopping = true;
  void demo.close().finally(() => process.exit(1));
});

console.log(
  [
    '',
    `demo: whoop-sync runs at ${demo.url}, its data in ${demo.directory} (deleted when the demo stops).`,
    `demo: WHOOP is simulated: member "${demo.member.first_name} ${demo.member.last_name}" with ${HISTORY_DAYS} days of data, connected.`,
    'demo: Slack is a local stand-in: messages the service posts are printed here.',
    'demo: try next:',
    ...demo.tryNext.map((line, index) => `  ${index + 1}. ${line}`),
    'demo: Ctrl-C stops everything.',
    '',
  ].join('\n'),
);
