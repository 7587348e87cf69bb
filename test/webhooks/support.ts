// Helpers for the webhook tests: deliveries through the fake WHOOP, and waiting for the worker.
import type { Database } from '../../src/db/database.js';
import type { FakeWhoop, WebhookDeliveryOptions, WebhookEvent } from '../fakes/whoop-server.js';
import { until } from '../support/until.js';

export type EventInput = Omit<WebhookEvent, 'trace_id'> & { trace_id?: string };

/** One delivery to the service, without WHOOP's retries unless asked. */
export function deliver(whoop: FakeWhoop, baseUrl: string, event: EventInput, options: WebhookDeliveryOptions = {}) {
  return whoop.deliverWebhook(`${baseUrl}/webhooks/whoop`, event, { retryDelaysMs: [], ...options });
}

/** Waits until every recorded event was processed (or given up). */
export async function processed(db: Database, timeoutMs?: number): Promise<void> {
  await until(
    async () => Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM webhook_events WHERE status = 'pending'`))[0]!.n) === 0,
    'the webhook events to be processed',
    timeoutMs,
  );
}

/** The WHOOP API paths requested (not OAuth), answered or not. */
export const apiPaths = (whoop: FakeWhoop) => whoop.stats.requests.filter((r) => r.path.startsWith('/developer/')).map((r) => r.path.slice('/developer'.length));
