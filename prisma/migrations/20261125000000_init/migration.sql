-- CreateEnum
CREATE TYPE "token_status" AS ENUM ('active', 'reauthorization_required');

-- CreateEnum
CREATE TYPE "sync_trigger" AS ENUM ('slack', 'schedule', 'cli', 'webhook');

-- CreateEnum
CREATE TYPE "sync_status" AS ENUM ('queued', 'running', 'succeeded', 'failed');

-- CreateTable
CREATE TABLE "whoop_users" (
    "user_id" BIGINT NOT NULL,
    "email" TEXT,
    "first_name" TEXT,
    "last_name" TEXT,
    "height_meter" DOUBLE PRECISION,
    "weight_kilogram" DOUBLE PRECISION,
    "max_heart_rate" INTEGER,
    "profile_raw" JSONB,
    "body_raw" JSONB,
    "connected_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "synced_at" TIMESTAMPTZ(3),

    CONSTRAINT "whoop_users_pkey" PRIMARY KEY ("user_id")
);

-- CreateTable
CREATE TABLE "whoop_tokens" (
    "user_id" BIGINT NOT NULL,
    "access_token" TEXT NOT NULL,
    "refresh_token" TEXT,
    "token_type" TEXT NOT NULL DEFAULT 'bearer',
    "scope" TEXT,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "obtained_at" TIMESTAMPTZ(3) NOT NULL,
    "status" "token_status" NOT NULL DEFAULT 'active',
    "status_reason" TEXT,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "whoop_tokens_pkey" PRIMARY KEY ("user_id")
);

-- CreateTable
CREATE TABLE "whoop_cycles" (
    "id" BIGINT NOT NULL,
    "user_id" BIGINT NOT NULL,
    "start" TIMESTAMPTZ(3) NOT NULL,
    "end" TIMESTAMPTZ(3),
    "timezone_offset" TEXT,
    "score_state" TEXT NOT NULL,
    "strain" DOUBLE PRECISION,
    "kilojoule" DOUBLE PRECISION,
    "average_heart_rate" INTEGER,
    "max_heart_rate" INTEGER,
    "raw" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    "synced_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "whoop_cycles_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "whoop_recoveries" (
    "cycle_id" BIGINT NOT NULL,
    "sleep_id" UUID,
    "user_id" BIGINT NOT NULL,
    "sleep_start" TIMESTAMPTZ(3),
    "score_state" TEXT NOT NULL,
    "user_calibrating" BOOLEAN,
    "recovery_score" DOUBLE PRECISION,
    "resting_heart_rate" DOUBLE PRECISION,
    "hrv_rmssd_milli" DOUBLE PRECISION,
    "spo2_percentage" DOUBLE PRECISION,
    "skin_temp_celsius" DOUBLE PRECISION,
    "raw" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    "synced_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "whoop_recoveries_pkey" PRIMARY KEY ("cycle_id")
);

-- CreateTable
CREATE TABLE "whoop_sleeps" (
    "id" UUID NOT NULL,
    "cycle_id" BIGINT,
    "v1_id" BIGINT,
    "user_id" BIGINT NOT NULL,
    "start" TIMESTAMPTZ(3) NOT NULL,
    "end" TIMESTAMPTZ(3) NOT NULL,
    "timezone_offset" TEXT,
    "nap" BOOLEAN NOT NULL,
    "score_state" TEXT NOT NULL,
    "total_in_bed_time_milli" INTEGER,
    "total_awake_time_milli" INTEGER,
    "total_no_data_time_milli" INTEGER,
    "total_light_sleep_time_milli" INTEGER,
    "total_slow_wave_sleep_time_milli" INTEGER,
    "total_rem_sleep_time_milli" INTEGER,
    "sleep_cycle_count" INTEGER,
    "disturbance_count" INTEGER,
    "baseline_milli" INTEGER,
    "need_from_sleep_debt_milli" INTEGER,
    "need_from_recent_strain_milli" INTEGER,
    "need_from_recent_nap_milli" INTEGER,
    "respiratory_rate" DOUBLE PRECISION,
    "sleep_performance_percentage" DOUBLE PRECISION,
    "sleep_consistency_percentage" DOUBLE PRECISION,
    "sleep_efficiency_percentage" DOUBLE PRECISION,
    "raw" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    "synced_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "whoop_sleeps_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "whoop_workouts" (
    "id" UUID NOT NULL,
    "v1_id" BIGINT,
    "user_id" BIGINT NOT NULL,
    "start" TIMESTAMPTZ(3) NOT NULL,
    "end" TIMESTAMPTZ(3) NOT NULL,
    "timezone_offset" TEXT,
    "sport_name" TEXT,
    "sport_id" INTEGER,
    "score_state" TEXT NOT NULL,
    "strain" DOUBLE PRECISION,
    "average_heart_rate" INTEGER,
    "max_heart_rate" INTEGER,
    "kilojoule" DOUBLE PRECISION,
    "percent_recorded" DOUBLE PRECISION,
    "distance_meter" DOUBLE PRECISION,
    "altitude_gain_meter" DOUBLE PRECISION,
    "altitude_change_meter" DOUBLE PRECISION,
    "zone_zero_milli" INTEGER,
    "zone_one_milli" INTEGER,
    "zone_two_milli" INTEGER,
    "zone_three_milli" INTEGER,
    "zone_four_milli" INTEGER,
    "zone_five_milli" INTEGER,
    "raw" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    "synced_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "whoop_workouts_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "sync_runs" (
    "id" SERIAL NOT NULL,
    "trigger" "sync_trigger" NOT NULL,
    "requested_by" TEXT,
    "channel_id" TEXT,
    "response_url" TEXT,
    "days" INTEGER NOT NULL,
    "window_start" TIMESTAMPTZ(3),
    "window_end" TIMESTAMPTZ(3),
    "status" "sync_status" NOT NULL DEFAULT 'queued',
    "counts" JSONB,
    "error" TEXT,
    "requested_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMPTZ(3),
    "finished_at" TIMESTAMPTZ(3),
    "reported_at" TIMESTAMPTZ(3),
    "report_error" TEXT,

    CONSTRAINT "sync_runs_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "whoop_cycles_user_id_start_idx" ON "whoop_cycles"("user_id", "start" DESC);

-- CreateIndex
CREATE INDEX "whoop_cycles_synced_at_idx" ON "whoop_cycles"("synced_at" DESC);

-- CreateIndex
CREATE INDEX "whoop_recoveries_user_id_sleep_start_idx" ON "whoop_recoveries"("user_id", "sleep_start" DESC);

-- CreateIndex
CREATE INDEX "whoop_sleeps_user_id_start_idx" ON "whoop_sleeps"("user_id", "start" DESC);

-- CreateIndex
CREATE INDEX "whoop_workouts_user_id_start_idx" ON "whoop_workouts"("user_id", "start" DESC);

-- CreateIndex
CREATE INDEX "sync_runs_status_requested_at_idx" ON "sync_runs"("status", "requested_at");

-- CreateIndex
CREATE INDEX "sync_runs_requested_at_idx" ON "sync_runs"("requested_at" DESC);

-- AddForeignKey
ALTER TABLE "whoop_tokens" ADD CONSTRAINT "whoop_tokens_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "whoop_users"("user_id") ON DELETE CASCADE ON UPDATE CASCADE;
