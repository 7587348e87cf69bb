-- CreateTable
CREATE TABLE "schedule_slots" (
    "schedule" TEXT NOT NULL,
    "slot" TIMESTAMPTZ(3) NOT NULL,
    "claimed_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "run_id" INTEGER,

    CONSTRAINT "schedule_slots_pkey" PRIMARY KEY ("schedule","slot")
);
