-- One worker per database (the holder of a session advisory lock) replaces worker rows, heartbeats and
-- run ownership: whoever holds the lock executes every waiting run and delivers every pending result.
DROP TABLE "sync_workers";
DROP INDEX "sync_runs_owner_idx";
ALTER TABLE "sync_runs" DROP COLUMN "owner";

-- WHOOP's budget, shared by every process on the database: one row per request sent in the last day,
-- and what WHOOP last said about what is left (X-RateLimit-Remaining/Reset, a 429's Retry-After).
CREATE TABLE "whoop_requests" (
    "id" BIGSERIAL NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "whoop_requests_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "whoop_requests_at_idx" ON "whoop_requests"("at");

CREATE TABLE "whoop_budget" (
    "id" INTEGER NOT NULL DEFAULT 1,
    "remaining" INTEGER,
    "reported_at" TIMESTAMPTZ(3),
    "reset_at" TIMESTAMPTZ(3),

    CONSTRAINT "whoop_budget_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "whoop_budget_one_row" CHECK ("id" = 1)
);
INSERT INTO "whoop_budget" ("id") VALUES (1);
