-- AlterTable
ALTER TABLE "sync_runs" ADD COLUMN     "accounts" INTEGER;
