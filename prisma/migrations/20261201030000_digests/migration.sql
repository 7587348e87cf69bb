-- One row per scheduled digest slot that a replica claimed (the claim itself is in schedule_slots): what became
-- of it, for /status and for operators. A failed post stays failed: it is never retried into a duplicate.
CREATE TABLE "digest_posts" (
    "kind" TEXT NOT NULL,
    "slot" TIMESTAMPTZ(3) NOT NULL,
    "outcome" TEXT NOT NULL,
    "error" TEXT,
    "sync_run_id" INTEGER,
    "finished_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "digest_posts_pkey" PRIMARY KEY ("kind","slot")
);
