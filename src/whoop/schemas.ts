// The shapes of WHOOP v2 responses, checked before anything is stored: an unexpected shape fails the sync
// with a message naming the field instead of writing garbage. Unknown fields are allowed (WHOOP adds
// fields) and kept, because the raw record is stored as well. The four collections' records are checked
// against the fields their tables store (src/sync/resources.ts), so a stored field is always validated.
import { z } from 'zod';
import { WhoopResponseError } from './errors.js';

const dateTime = z.string().refine((value) => !Number.isNaN(Date.parse(value)), 'expected an RFC 3339 date-time');
// Optional metrics arrive either absent or as explicit null.
const maybe = <T extends z.ZodType>(schema: T) => schema.nullish();
const int = z.number().int();

/** The checks a WHOOP record's values are held to, by kind. */
export const checks = {
  int,
  number: z.number(),
  string: z.string(),
  guid: z.guid(),
  boolean: z.boolean(),
  dateTime,
  scoreState: z.enum(['SCORED', 'PENDING_SCORE', 'UNSCORABLE']),
};

export interface RecordField {
  /** Where the value sits in the record, e.g. `['score', 'stage_summary', 'disturbance_count']`. */
  path: readonly string[];
  check: z.ZodType;
  /** Optional values may be absent or null, and so may every object they are nested in. */
  required: boolean;
}

/**
 * The schema of a WHOOP record holding the given fields, nested as they are in the record. Objects and
 * fields are checked in the order given, so the first field listed that is wrong is the one named.
 */
export function recordSchema(fields: readonly RecordField[]): z.ZodType {
  type Shape = Map<string, { field: RecordField } | { nested: Shape }>;
  const root: Shape = new Map();
  for (const field of fields) {
    let shape = root;
    for (const name of field.path.slice(0, -1)) {
      let entry = shape.get(name);
      if (!entry) shape.set(name, (entry = { nested: new Map() }));
      if (!('nested' in entry)) throw new Error(`${field.path.join('.')}: ${name} is a field, not an object`);
      shape = entry.nested;
    }
    shape.set(field.path.at(-1)!, { field });
  }
  const build = (shape: Shape): z.ZodType => {
    const checked = [...shape].map(([name, entry]) => {
      if ('nested' in entry) return [name, maybe(build(entry.nested))];
      return [name, entry.field.required ? entry.field.check : maybe(entry.field.check)];
    });
    return z.looseObject(Object.fromEntries(checked));
  };
  return build(root);
}

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
