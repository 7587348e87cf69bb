-- When the worker next tries to deliver a refused result message (backoff kept in the row, so a restart or
-- another worker keeps the schedule); NULL: as soon as the run is finished.
-- AlterTable
ALTER TABLE "sync_runs" ADD COLUMN     "report_next_at" TIMESTAMPTZ(3);
