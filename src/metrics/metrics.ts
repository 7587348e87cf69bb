// Every Prometheus metric the service exposes, in one registry per app instance (tests run several apps
// in one process). Label values are always from small fixed sets: never raw URLs or free text.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export const RESOURCES = ['cycles', 'recoveries', 'sleeps', 'workouts'] as const;
export type Resource = (typeof RESOURCES)[number];

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    syncRuns: new Counter({
      name: 'whoop_sync_runs_total',
      help: 'Finished sync runs by trigger (slack, schedule, cli, webhook) and outcome (succeeded, failed).',
      labelNames: ['trigger', 'outcome'] as const,
      registers,
    }),
    recordsWritten: new Counter({
      name: 'whoop_sync_records_written_total',
      help: 'WHOOP records inserted or updated, by resource.',
      labelNames: ['resource'] as const,
      registers,
    }),
    recordsDeleted: new Counter({
      name: 'whoop_sync_records_deleted_total',
      help: 'Local records removed because WHOOP no longer returns them, by resource.',
      labelNames: ['resource'] as const,
      registers,
    }),
    syncDuration: new Histogram({
      name: 'whoop_sync_duration_seconds',
      help: 'Wall time of sync runs, by trigger.',
      labelNames: ['trigger'] as const,
      buckets: [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600],
      registers,
    }),
    lastSuccess: new Gauge({
      name: 'whoop_sync_last_success_timestamp_seconds',
      help: 'Unix time at which the last successful sync finished (0 before the first one).',
      registers,
    }),
    whoopRequests: new Counter({
      name: 'whoop_api_requests_total',
      help: 'Requests to the WHOOP API by endpoint and status class (2xx, 4xx, 5xx, error for network failures).',
      labelNames: ['endpoint', 'status_class'] as const,
      registers,
    }),
    whoopRateLimited: new Counter({
      name: 'whoop_api_rate_limited_total',
      help: 'WHOOP API answers with HTTP 429.',
      registers,
    }),
    whoopRetries: new Counter({
      name: 'whoop_api_retries_total',
      help: 'WHOOP API requests retried after a 429, a 5xx or a network error, by endpoint.',
      labelNames: ['endpoint'] as const,
      registers,
    }),
    tokenRefreshes: new Counter({
      name: 'whoop_token_refreshes_total',
      help: 'WHOOP OAuth token refreshes by outcome (succeeded, invalid_grant, failed).',
      labelNames: ['outcome'] as const,
      registers,
    }),
    accountsReauthorizationRequired: new Gauge({
      name: 'whoop_sync_accounts_reauthorization_required',
      help: 'Connected WHOOP accounts whose grant is dead and must be reconnected at /oauth/whoop.',
      registers,
    }),
    slackCommands: new Counter({
      name: 'whoop_sync_slack_commands_total',
      help: 'Slack slash commands by outcome (accepted, help, refused, not_configured, ssl_check).',
      labelNames: ['outcome'] as const,
      registers,
    }),
    slackSignatureFailures: new Counter({
      name: 'whoop_sync_slack_signature_failures_total',
      help: 'Slack requests refused by signature verification, by the check that failed.',
      labelNames: ['reason'] as const,
      registers,
    }),
    scheduleSkips: new Counter({
      name: 'whoop_sync_schedule_skipped_total',
      help: 'Scheduled sync slots skipped because the previous run was still busy, by schedule.',
      labelNames: ['schedule'] as const,
      registers,
    }),
    digests: new Counter({
      name: 'whoop_sync_digests_total',
      help: 'Scheduled digests by kind (daily, weekly) and outcome (posted, posted_stale, failed, claimed_elsewhere).',
      labelNames: ['kind', 'outcome'] as const,
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
