-- WHOOP's API declares the sleep-need and heart-rate-zone durations as int64 milliseconds.
ALTER TABLE "whoop_sleeps"
    ALTER COLUMN "baseline_milli" TYPE BIGINT,
    ALTER COLUMN "need_from_sleep_debt_milli" TYPE BIGINT,
    ALTER COLUMN "need_from_recent_strain_milli" TYPE BIGINT,
    ALTER COLUMN "need_from_recent_nap_milli" TYPE BIGINT;

ALTER TABLE "whoop_workouts"
    ALTER COLUMN "zone_zero_milli" TYPE BIGINT,
    ALTER COLUMN "zone_one_milli" TYPE BIGINT,
    ALTER COLUMN "zone_two_milli" TYPE BIGINT,
    ALTER COLUMN "zone_three_milli" TYPE BIGINT,
    ALTER COLUMN "zone_four_milli" TYPE BIGINT,
    ALTER COLUMN "zone_five_milli" TYPE BIGINT;
