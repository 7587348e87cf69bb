-- AlterTable
ALTER TABLE "sync_runs" ADD COLUMN     "envelope_id" TEXT;

-- CreateIndex
CREATE UNIQUE INDEX "sync_runs_envelope_id_key" ON "sync_runs"("envelope_id");
