// The signing secret `npm run demo` gives its service, and the one `npm run slash` signs with when
// SLACK_SIGNING_SECRET is unset, so the two work together with nothing configured. It is public on purpose:
// the demo's service listens on loopback only and holds synthetic data. No service ever falls back to it.
export const DEMO_SIGNING_SECRET = 'whoop-sync-demo-signing-secret';

/** The Slack workspace id `npm run slash` sends when it cannot learn the real one, and the demo's stand-in uses. */
export const DEMO_TEAM_ID = 'T0SLASHCLI';
