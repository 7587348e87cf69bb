-- CreateTable
CREATE TABLE "sync_workers" (
    "id" TEXT NOT NULL,
    "started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "heartbeat_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "sync_workers_pkey" PRIMARY KEY ("id")
);

-- AlterTable
ALTER TABLE "sync_runs" ADD COLUMN     "owner" TEXT,
ADD COLUMN     "report_attempts" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "report_gave_up_at" TIMESTAMPTZ(3);

-- CreateIndex
CREATE INDEX "sync_runs_owner_idx" ON "sync_runs"("owner");
