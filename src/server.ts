// The service entry point: validate configuration, build the app, listen, and shut down gracefully.
import closeWithGrace from 'close-with-grace';
import { buildApp } from './app.js';
import { ConfigError, loadConfig, readEnvironment, type Config } from './config/config.js';
import { describeStartupFailure } from './startup-failure.js';
import { nextStep, readSetupChecklist } from './http/setup-checklist.js';

let config: Config;
try {
  config = loadConfig(readEnvironment());
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  for (const problem of error.problems) console.error(`whoop-sync: invalid configuration: ${problem}`);
  process.exit(1);
}

let app: Awaited<ReturnType<typeof buildApp>>;
try {
  app = await buildApp(config);
} catch (error) {
  console.error(`whoop-sync: start-up failed: ${describeStartupFailure(error)}`);
  process.exit(1);
}

// On SIGTERM/SIGINT: stop accepting connections, let in-flight requests and work finish, close the
// database. A second signal, or 10 s without finishing, exits at once.
closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
  if (err) app.log.error({ err }, 'shutting down after an unexpected error');
  else app.log.info({ signal }, 'shutting down');
  await app.close();
});

try {
  await app.listen({ port: config.port, host: config.host });
} catch (error) {
  app.log.fatal({ err: error }, `cannot listen on ${config.host}:${config.port}`);
  await app.close();
  process.exit(1);
}

if (!config.slack.signingSecret && !config.slack.appToken) app.log.warn('SLACK_SIGNING_SECRET is not set: POST /slack/commands answers 503 until it is');
if ((config.slack.signingSecret || config.slack.appToken) && !config.slack.botToken) {
  app.log.warn('SLACK_BOT_TOKEN is not set: /sync results can only be delivered through the response_url of each command');
}
// One line naming the first missing piece, from the same checklist as the page at `/`; after the seed, whose
// account would otherwise count as missing.
void app.whoop.seeded
  .then(() => readSetupChecklist(app))
  .then((sections) => {
    const step = nextStep(sections);
    app.log.info(step ? `next step: ${step}` : `setup complete: nothing is missing (${config.publicUrl}/ shows the state)`);
  });
