// Every Prometheus metric the service exposes, in one registry per app instance (tests run several apps
// in one process). Label values are always from small fixed sets: never raw URLs or free text.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

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
    budgetLeft: new Gauge({
      name: 'whoop_budget_remaining_requests',
      help: "What is left of WHOOP's budget for this app (shared by every process), by window (minute, day).",
      labelNames: ['window'] as const,
      registers,
    }),
    historyIncomplete: new Gauge({
      name: 'whoop_history_collections_incomplete',
      help: "Collections (cycles, recoveries, sleeps, workouts) of connected members whose whole-history backfill is still being fetched.",
      registers,
    }),
    historyRequestsLeft: new Gauge({
      name: 'whoop_history_requests_left',
      help: 'WHOOP requests the incomplete history backfills still need, estimated.',
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
      help: 'Connected WHOOP accounts whose grant is dead and must be reconnected (/whoop connect in Slack, or the dashboard).',
      registers,
    }),
    slackCommands: new Counter({
      name: 'whoop_sync_slack_commands_total',
      help: 'Slack slash commands by outcome (accepted, help, refused, not_configured, ssl_check, whoop).',
      labelNames: ['outcome'] as const,
      registers,
    }),
    slackSignatureFailures: new Counter({
      name: 'whoop_sync_slack_signature_failures_total',
      help: 'Slack requests refused by signature verification, by the check that failed.',
      labelNames: ['reason'] as const,
      registers,
    }),
    slackSocketConnected: new Gauge({
      name: 'whoop_sync_slack_socket_connected',
      help: '1 while this process holds a Slack Socket Mode connection (SLACK_APP_TOKEN set), else 0.',
      registers,
    }),
    scheduleSkips: new Counter({
      name: 'whoop_sync_schedule_skipped_total',
      help: 'Scheduled sync slots skipped because the previous run was still busy, by schedule.',
      labelNames: ['schedule'] as const,
      registers,
    }),
    webhooks: new Counter({
      name: 'whoop_sync_webhooks_total',
      help: 'WHOOP webhook deliveries by event type (or "unknown") and outcome: accepted, duplicate, not_connected, ignored, refused, invalid, unavailable when received; processed, retried, failed when worked on.',
      labelNames: ['type', 'outcome'] as const,
      registers,
    }),
    webhookFreshness: new Histogram({
      name: 'whoop_sync_webhook_freshness_seconds',
      help: "Seconds from a WHOOP webhook's arrival to its change being committed.",
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900],
      registers,
    }),
    resultDeliveryFailures: new Counter({
      name: 'whoop_sync_result_delivery_failures_total',
      help: 'Result messages that no path accepted, by outcome: retrying (another attempt follows) or gave_up.',
      labelNames: ['outcome'] as const,
      registers,
    }),
    digests: new Counter({
      name: 'whoop_sync_digests_total',
      help: 'Scheduled digests by kind (daily, weekly) and outcome (posted, posted_stale, failed, claimed_elsewhere, no_recipients).',
      labelNames: ['kind', 'outcome'] as const,
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
