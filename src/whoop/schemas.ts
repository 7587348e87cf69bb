// The shapes of WHOOP v2 responses, checked before anything is stored: an unexpected shape fails the sync
// with a message naming the field instead of writing garbage. Unknown fields are allowed (WHOOP adds
// fields) and kept, because the raw record is stored as well.
import { z } from 'zod';
import { WhoopResponseError } from './errors.js';

const dateTime = z.string().refine((value) => !Number.isNaN(Date.parse(value)), 'expected an RFC 3339 date-time');
// Optional metrics arrive either absent or as explicit null.
const maybe = <T extends z.ZodType>(schema: T) => schema.nullish();
const int = z.number().int();
const scoreState = z.enum(['SCORED', 'PENDING_SCORE', 'UNSCORABLE']);

const common = {
  user_id: int,
  created_at: dateTime,
  updated_at: dateTime,
  score_state: scoreState,
};

export const cycleSchema = z.looseObject({
  ...common,
  id: int,
  start: dateTime,
  end: maybe(dateTime),
  timezone_offset: maybe(z.string()),
  score: maybe(
    z.looseObject({
      strain: maybe(z.number()),
      kilojoule: maybe(z.number()),
      average_heart_rate: maybe(int),
      max_heart_rate: maybe(int),
    }),
  ),
});

export const recoverySchema = z.looseObject({
  ...common,
  cycle_id: int,
  sleep_id: maybe(z.guid()),
  score: maybe(
    z.looseObject({
      user_calibrating: maybe(z.boolean()),
      recovery_score: maybe(z.number()),
      resting_heart_rate: maybe(z.number()),
      hrv_rmssd_milli: maybe(z.number()),
      spo2_percentage: maybe(z.number()),
      skin_temp_celsius: maybe(z.number()),
    }),
  ),
});

export const sleepSchema = z.looseObject({
  ...common,
  id: z.guid(),
  cycle_id: maybe(int),
  v1_id: maybe(int),
  start: dateTime,
  end: dateTime,
  timezone_offset: maybe(z.string()),
  nap: z.boolean(),
  score: maybe(
    z.looseObject({
      stage_summary: maybe(
        z.looseObject({
          total_in_bed_time_milli: maybe(int),
          total_awake_time_milli: maybe(int),
          total_no_data_time_milli: maybe(int),
          total_light_sleep_time_milli: maybe(int),
          total_slow_wave_sleep_time_milli: maybe(int),
          total_rem_sleep_time_milli: maybe(int),
          sleep_cycle_count: maybe(int),
          disturbance_count: maybe(int),
        }),
      ),
      sleep_needed: maybe(
        z.looseObject({
          baseline_milli: maybe(int),
          need_from_sleep_debt_milli: maybe(int),
          need_from_recent_strain_milli: maybe(int),
          need_from_recent_nap_milli: maybe(int),
        }),
      ),
      respiratory_rate: maybe(z.number()),
      sleep_performance_percentage: maybe(z.number()),
      sleep_consistency_percentage: maybe(z.number()),
      sleep_efficiency_percentage: maybe(z.number()),
    }),
  ),
});

export const workoutSchema = z.looseObject({
  ...common,
  id: z.guid(),
  v1_id: maybe(int),
  start: dateTime,
  end: dateTime,
  timezone_offset: maybe(z.string()),
  sport_name: maybe(z.string()),
  sport_id: maybe(int),
  score: maybe(
    z.looseObject({
      strain: maybe(z.number()),
      average_heart_rate: maybe(int),
      max_heart_rate: maybe(int),
      kilojoule: maybe(z.number()),
      percent_recorded: maybe(z.number()),
      distance_meter: maybe(z.number()),
      altitude_gain_meter: maybe(z.number()),
      altitude_change_meter: maybe(z.number()),
      zone_durations: maybe(
        z.looseObject({
          zone_zero_milli: maybe(int),
          zone_one_milli: maybe(int),
          zone_two_milli: maybe(int),
          zone_three_milli: maybe(int),
          zone_four_milli: maybe(int),
          zone_five_milli: maybe(int),
        }),
      ),
    }),
  ),
});

// WHOOP's OpenAPI requires neither field: a page without `records` is an empty page, one without
// `next_token` the last.
export const pageSchema = z.looseObject({
  records: maybe(z.array(z.unknown())).transform((records) => records ?? []),
  next_token: maybe(z.string()),
});

export const profileSchema = z.looseObject({
  user_id: int,
  email: maybe(z.string()),
  first_name: maybe(z.string()),
  last_name: maybe(z.string()),
});

export const bodySchema = z.looseObject({
  height_meter: maybe(z.number()),
  weight_kilogram: maybe(z.number()),
  max_heart_rate: maybe(int),
});

export const tokenResponseSchema = z.looseObject({
  access_token: z.string().min(1),
  expires_in: z.number().positive(),
  refresh_token: maybe(z.string().min(1)),
  scope: maybe(z.string()),
  token_type: maybe(z.string()),
});

export type Cycle = z.infer<typeof cycleSchema>;
export type Recovery = z.infer<typeof recoverySchema>;
export type Sleep = z.infer<typeof sleepSchema>;
export type Workout = z.infer<typeof workoutSchema>;
export type Profile = z.infer<typeof profileSchema>;
export type Body = z.infer<typeof bodySchema>;
export type TokenResponse = z.infer<typeof tokenResponseSchema>;

/** Parses `value` or throws a WhoopResponseError naming the first offending field. */
export function parseResponse<T extends z.ZodType>(schema: T, value: unknown, what: string): z.infer<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = issue.path.length > 0 ? issue.path.join('.') : '(body)';
  throw new WhoopResponseError(`WHOOP returned an unexpected ${what}: field ${field}: ${issue.message}`);
}
