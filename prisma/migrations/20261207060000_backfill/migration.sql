-- A member's whole WHOOP history, fetched page by page at the lowest priority (src/sync/backfill.ts): one row per
-- connected account and collection, the checkpoint of where the next page starts. Rows are created for every
-- connected account, including those connected before this version; they go with the account's grant.
CREATE TABLE "backfill_progress" (
    "user_id" BIGINT NOT NULL,
    "collection" TEXT NOT NULL,
    "window_start" TIMESTAMPTZ(3) NOT NULL,
    "window_end" TIMESTAMPTZ(3) NOT NULL,
    "next_token" TEXT,
    "oldest_at" TIMESTAMPTZ(3),
    "pages" INTEGER NOT NULL DEFAULT 0,
    "records" INTEGER NOT NULL DEFAULT 0,
    "started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "completed_at" TIMESTAMPTZ(3),
    "announced_at" TIMESTAMPTZ(3),

    CONSTRAINT "backfill_progress_pkey" PRIMARY KEY ("user_id", "collection"),
    CONSTRAINT "backfill_progress_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "whoop_tokens"("user_id") ON DELETE CASCADE ON UPDATE CASCADE
);
