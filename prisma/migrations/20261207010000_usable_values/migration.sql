-- The typed columns hold only values queries can use; the raw record keeps what WHOOP sent. A timezone_offset
-- that is not ±hh:mm within ±14:00 made every query casting it to an interval fail (the weekly report
-- among them), and a recovery of 250 % or a negative HRV was shown as if valid. Rows stored before the sync
-- checked these are cleaned here; the constraints keep any writer from storing them again.
UPDATE "whoop_cycles" SET "timezone_offset" = NULL
    WHERE "timezone_offset" IS NOT NULL AND "timezone_offset" !~ '^[+-]((0\d|1[0-3]):[0-5]\d|14:00)$';
UPDATE "whoop_sleeps" SET "timezone_offset" = NULL
    WHERE "timezone_offset" IS NOT NULL AND "timezone_offset" !~ '^[+-]((0\d|1[0-3]):[0-5]\d|14:00)$';
UPDATE "whoop_workouts" SET "timezone_offset" = NULL
    WHERE "timezone_offset" IS NOT NULL AND "timezone_offset" !~ '^[+-]((0\d|1[0-3]):[0-5]\d|14:00)$';
UPDATE "whoop_cycles" SET "strain" = NULL WHERE "strain" NOT BETWEEN 0 AND 21;
UPDATE "whoop_workouts" SET "strain" = NULL WHERE "strain" NOT BETWEEN 0 AND 21;
UPDATE "whoop_workouts" SET "percent_recorded" = NULL WHERE "percent_recorded" NOT BETWEEN 0 AND 100;
UPDATE "whoop_recoveries" SET
    "recovery_score" = CASE WHEN "recovery_score" BETWEEN 0 AND 100 THEN "recovery_score" END,
    "spo2_percentage" = CASE WHEN "spo2_percentage" BETWEEN 0 AND 100 THEN "spo2_percentage" END,
    "hrv_rmssd_milli" = CASE WHEN "hrv_rmssd_milli" >= 0 THEN "hrv_rmssd_milli" END;
UPDATE "whoop_sleeps" SET
    "sleep_performance_percentage" = CASE WHEN "sleep_performance_percentage" BETWEEN 0 AND 100 THEN "sleep_performance_percentage" END,
    "sleep_consistency_percentage" = CASE WHEN "sleep_consistency_percentage" BETWEEN 0 AND 100 THEN "sleep_consistency_percentage" END,
    "sleep_efficiency_percentage" = CASE WHEN "sleep_efficiency_percentage" BETWEEN 0 AND 100 THEN "sleep_efficiency_percentage" END;

ALTER TABLE "whoop_cycles"
    ADD CONSTRAINT "whoop_cycles_timezone_offset_usable" CHECK ("timezone_offset" ~ '^[+-]((0\d|1[0-3]):[0-5]\d|14:00)$'),
    ADD CONSTRAINT "whoop_cycles_strain_range" CHECK ("strain" BETWEEN 0 AND 21);
ALTER TABLE "whoop_sleeps"
    ADD CONSTRAINT "whoop_sleeps_timezone_offset_usable" CHECK ("timezone_offset" ~ '^[+-]((0\d|1[0-3]):[0-5]\d|14:00)$'),
    ADD CONSTRAINT "whoop_sleeps_percentages_range" CHECK (
        "sleep_performance_percentage" BETWEEN 0 AND 100
        AND "sleep_consistency_percentage" BETWEEN 0 AND 100
        AND "sleep_efficiency_percentage" BETWEEN 0 AND 100);
ALTER TABLE "whoop_workouts"
    ADD CONSTRAINT "whoop_workouts_timezone_offset_usable" CHECK ("timezone_offset" ~ '^[+-]((0\d|1[0-3]):[0-5]\d|14:00)$'),
    ADD CONSTRAINT "whoop_workouts_strain_range" CHECK ("strain" BETWEEN 0 AND 21),
    ADD CONSTRAINT "whoop_workouts_percent_recorded_range" CHECK ("percent_recorded" BETWEEN 0 AND 100);
ALTER TABLE "whoop_recoveries"
    ADD CONSTRAINT "whoop_recoveries_range" CHECK (
        "recovery_score" BETWEEN 0 AND 100 AND "spo2_percentage" BETWEEN 0 AND 100 AND "hrv_rmssd_milli" >= 0);
