-- WHOOP webhook deliveries, recorded before they are acknowledged: the trace_id deduplicates redeliveries
-- (in every replica), and a row still pending after a crash is processed at the next start.
CREATE TABLE "webhook_events" (
    "trace_id" TEXT NOT NULL,
    "user_id" BIGINT NOT NULL,
    "type" TEXT NOT NULL,
    "record_id" TEXT NOT NULL,
    "received_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "next_attempt_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "processed_at" TIMESTAMPTZ(3),
    "error" TEXT,

    CONSTRAINT "webhook_events_pkey" PRIMARY KEY ("trace_id")
);

CREATE INDEX "webhook_events_status_next_attempt_at_idx" ON "webhook_events"("status", "next_attempt_at");
CREATE INDEX "webhook_events_received_at_idx" ON "webhook_events"("received_at");

-- Slack request signatures already accepted, shared by every replica, until they could no longer be valid.
CREATE TABLE "seen_signatures" (
    "signature" TEXT NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "seen_signatures_pkey" PRIMARY KEY ("signature")
);

CREATE INDEX "seen_signatures_expires_at_idx" ON "seen_signatures"("expires_at");
