-- WHOOP writes the offset of a member in UTC as "Z", which is no interval: every read of whoop_daily failed once
-- such a member was connected. "Z" now counts as +00:00, like an empty offset.
CREATE OR REPLACE VIEW "whoop_daily" AS
WITH "main_sleep" AS (
    SELECT DISTINCT ON (s."cycle_id") s.*
    FROM "whoop_sleeps" s
    WHERE NOT s."nap" AND s."cycle_id" IS NOT NULL
    ORDER BY s."cycle_id", (s."end" - s."start") DESC
),
"days" AS (
    SELECT
        c."user_id",
        ((COALESCE(ms."end", c."start") AT TIME ZONE 'UTC')
            + COALESCE(NULLIF(NULLIF(c."timezone_offset", ''), 'Z'), '+00:00')::interval)::date AS "day",
        c."id" AS "cycle_id",
        c."start" AS "cycle_start",
        c."end" AS "cycle_end",
        r."score_state" AS "recovery_score_state",
        r."recovery_score",
        r."hrv_rmssd_milli",
        r."resting_heart_rate",
        r."spo2_percentage",
        r."skin_temp_celsius",
        ms."id" AS "sleep_id",
        ms."score_state" AS "sleep_score_state",
        ms."total_light_sleep_time_milli" + ms."total_slow_wave_sleep_time_milli" + ms."total_rem_sleep_time_milli"
            AS "asleep_milli",
        ms."total_light_sleep_time_milli" AS "light_sleep_milli",
        ms."total_slow_wave_sleep_time_milli" AS "slow_wave_sleep_milli",
        ms."total_rem_sleep_time_milli" AS "rem_sleep_milli",
        ms."baseline_milli" + ms."need_from_sleep_debt_milli" + ms."need_from_recent_strain_milli"
            + ms."need_from_recent_nap_milli" AS "sleep_needed_milli",
        ms."need_from_sleep_debt_milli" AS "sleep_debt_milli",
        ms."sleep_performance_percentage",
        ms."sleep_efficiency_percentage",
        c."score_state" AS "cycle_score_state",
        c."strain" AS "day_strain",
        (SELECT count(*)::int FROM "whoop_workouts" w
            WHERE w."user_id" = c."user_id" AND w."start" >= c."start" AND (c."end" IS NULL OR w."start" < c."end"))
            AS "workouts",
        (SELECT COALESCE(round(sum(EXTRACT(EPOCH FROM (w."end" - w."start"))) / 60), 0)::int FROM "whoop_workouts" w
            WHERE w."user_id" = c."user_id" AND w."start" >= c."start" AND (c."end" IS NULL OR w."start" < c."end"))
            AS "workout_minutes"
    FROM "whoop_cycles" c
    LEFT JOIN "whoop_recoveries" r ON r."cycle_id" = c."id"
    LEFT JOIN "main_sleep" ms ON ms."cycle_id" = c."id"
)
SELECT DISTINCT ON ("user_id", "day") *
FROM "days"
ORDER BY "user_id", "day", "cycle_start" DESC;
