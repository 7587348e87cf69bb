// The MCP server's tools and prompt: questions over the service's own database, never a WHOOP request. Each
// tool validates its input (zod, with messages a person can act on), answers with compact JSON whose field
// names carry their units, and reports a problem as a tool error with a sentence saying what to change.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { FastifyBaseLogger } from 'fastify';
import { z } from 'zod';
import type { Database } from '../db/database.js';
import {
  comparePeriods, correlate, dailyTable, latestWithBaselines, METRIC_NAMES, METRICS, sleepSummary, trend,
  workoutsBySport,
  type Period,
} from '../reports/analysis.js';
import { members, type Member } from '../reports/daily.js';
import { addDays, isDay, localDay } from '../reports/days.js';
import { syncStatus } from '../reports/sync-status.js';

/** A refusal to show the caller as it is: it says what to change. */
class ToolError extends Error {}

export interface ToolContext {
  db: Database;
  /** SYNC_TIMEZONE: what "today" is when a period is left open. */
  timezone: string;
  connectUrl: string;
  log: FastifyBaseLogger;
  /**
   * A member's own token: every tool answers for this member (a WHOOP user id) only, and no other member's
   * rows, name or id appear anywhere, as if they were not connected. Unset for the operator's MCP_TOKEN.
   */
  onlyMember?: string;
}

const MAX_PERIOD_DAYS = 3660;
const MAX_DAILY_ROWS = 366;

const DAY_WORDS =
  'A day is a WHOOP day: the local date the member woke up on (a WHOOP cycle runs from falling asleep to the next sleep). ' +
  'Dates are written YYYY-MM-DD; a period includes both ends.';

const date = (name: string) =>
  z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/, `${name} must be a date written YYYY-MM-DD, e.g. 2026-03-01`)
    .refine(isDay, `${name} is not a date in the calendar from 1900 to 9999`);

const member = z
  .string()
  .trim()
  .min(1)
  .max(100, 'member is at most 100 characters: a WHOOP user id or a name')
  .optional()
  .describe('WHOOP user id (digits) or the member\'s name; may be left out when only one member is connected (sync_status lists them)');

const period = {
  from: date('from').optional().describe('first day of the period, YYYY-MM-DD; default: `days` days before `to`'),
  to: date('to').optional().describe('last day of the period, YYYY-MM-DD; default: today'),
  days: z
    .number({ message: 'days must be a whole number of days' })
    .int('days must be a whole number of days')
    .min(1, 'days must be at least 1')
    .max(MAX_PERIOD_DAYS, `days must be at most ${MAX_PERIOD_DAYS} (about ten years)`)
    .optional()
    .describe('length of the period ending at `to`, when `from` is not given; default 30'),
};

const metric = (name: string) =>
  z.enum(METRIC_NAMES, { message: `${name} must be one of ${METRIC_NAMES.join(', ')}` });

const METRIC_LIST = METRIC_NAMES.map((name) => `${name}: ${METRICS[name].description}`).join('; ');

// Built once: a server is built per request, its tools' schemas need not be.
const INPUTS = {
  period: { member, ...period },
  trend: { member, metric: metric('metric'), ...period },
  comparePeriods: {
    member,
    a_from: date('a_from').describe('first day of period a, YYYY-MM-DD'),
    a_to: date('a_to').describe('last day of period a, YYYY-MM-DD'),
    b_from: date('b_from').describe('first day of period b, YYYY-MM-DD'),
    b_to: date('b_to').describe('last day of period b, YYYY-MM-DD'),
  },
  correlate: {
    member,
    x: metric('x'),
    y: metric('y'),
    lag_days: z
      .number({ message: 'lag_days must be a whole number of days from 0 to 14' })
      .int('lag_days must be a whole number of days from 0 to 14')
      .min(0, 'lag_days must be at least 0')
      .max(14, 'lag_days must be at most 14')
      .optional()
      .describe('y is taken this many days after x; default 0 (same day)'),
    ...period,
  },
  workouts: {
    member,
    sport: z.string().trim().min(1).max(100, 'sport is at most 100 characters').optional().describe('only this sport, e.g. running'),
    ...period,
  },
  weeklyReview: { member: z.string().max(100).optional().describe('WHOOP user id or name; leave out with a single member') },
};

const READ_ONLY = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false } as const;

interface PeriodInput {
  from?: string | undefined;
  to?: string | undefined;
  days?: number | undefined;
}

function resolvePeriod(input: PeriodInput, timezone: string, defaultDays = 30): Period {
  if (input.from !== undefined && input.days !== undefined) throw new ToolError('Give either from or days, not both.');
  const to = input.to ?? localDay(new Date(), timezone);
  const from = input.from ?? addDays(to, -((input.days ?? defaultDays) - 1));
  if (from > to) throw new ToolError(`The period starts (${from}) after it ends (${to}): swap from and to.`);
  const days = (Date.parse(to) - Date.parse(from)) / 86_400_000 + 1;
  if (days > MAX_PERIOD_DAYS) throw new ToolError(`The period is ${days} days long; at most ${MAX_PERIOD_DAYS} (about ten years) are allowed: narrow from/to.`);
  return { from, to };
}

/** The members the caller may see: everyone for the operator, the token's member for a member's token. */
async function visibleMembers(context: ToolContext): Promise<Member[]> {
  const all = await members(context.db);
  return context.onlyMember === undefined ? all : all.filter((m) => m.userId === context.onlyMember);
}

async function resolveMember(context: ToolContext, given: string | undefined): Promise<Member> {
  const all = await visibleMembers(context);
  const list = () => all.map((m) => `${m.name} (${m.userId})`).join(', ');
  if (all.length === 0) throw new ToolError('No WHOOP member is connected yet: connect an account on the service\'s home page first.');
  if (given === undefined) {
    if (all.length === 1) return all[0]!;
    throw new ToolError(`${all.length} members are connected: ${list()}. Pass member as one of these ids.`);
  }
  const wanted = given.toLowerCase();
  const found = all.filter((m) => m.userId === given || m.name.toLowerCase() === wanted || m.name.toLowerCase().split(' ')[0] === wanted);
  if (found.length === 1) return found[0]!;
  if (found.length > 1) throw new ToolError(`Several members match "${given}": ${found.map((m) => `${m.name} (${m.userId})`).join(', ')}. Pass the id.`);
  throw new ToolError(`No connected member is "${given}". Connected: ${list()}.`);
}

const json = (value: unknown): CallToolResult => ({ content: [{ type: 'text', text: JSON.stringify(value) }] });

/** Runs a tool: its answer as JSON, or its refusal (or a database failure) as a tool error. */
async function answer(context: ToolContext, tool: string, run: () => Promise<unknown>): Promise<CallToolResult> {
  try {
    return json(await run());
  } catch (error) {
    if (error instanceof ToolError) return { content: [{ type: 'text', text: error.message }], isError: true };
    context.log.error({ err: error, tool }, 'an MCP tool failed');
    return {
      content: [{ type: 'text', text: 'The service could not read its database just now; try again in a minute. If it persists, the service\'s logs say why.' }],
      isError: true,
    };
  }
}

/** A new server with every tool and the prompt (one per request: the transport is stateless). */
export function buildMcpServer(context: ToolContext, version: string): McpServer {
  const { db, timezone } = context;
  const server = new McpServer(
    { name: 'whoop-sync', version },
    {
      instructions:
        'Answers questions about the connected WHOOP members\' history from whoop-sync\'s own database (no WHOOP request, no rate limit). ' +
        `${DAY_WORDS} Start with sync_status or latest to see who is connected and how fresh the data is.`,
    },
  );

  server.registerTool(
    'latest',
    {
      title: 'Latest values',
      description:
        'Each member\'s latest recovery (%), HRV (ms), resting heart rate (bpm), sleep (hours asleep, performance %) and day strain (0–21), ' +
        'each from the latest day that has it, with its 30-day baseline (mean over the 30 days before that day). ' + DAY_WORDS,
      inputSchema: {},
      annotations: READ_ONLY,
    },
    () =>
      answer(context, 'latest', async () => {
        const [people, latest] = await Promise.all([visibleMembers(context), latestWithBaselines(db)]);
        return { members: people.map((m) => ({ member_id: m.userId, name: m.name, ...latest.get(m.userId) })) };
      }),
  );

  server.registerTool(
    'daily',
    {
      title: 'Daily values',
      description:
        `One row per day for a member over a period of at most ${MAX_DAILY_ROWS} days, as columns and rows. Columns: day, ${METRIC_LIST}; workouts (count). ` +
        `Null where the day has no value. ${DAY_WORDS} For longer periods use trend or compare_periods.`,
      inputSchema: INPUTS.period,
      annotations: READ_ONLY,
    },
    (input) =>
      answer(context, 'daily', async () => {
        const chosen = await resolveMember(context, input.member);
        const range = resolvePeriod(input, timezone);
        const days = (Date.parse(range.to) - Date.parse(range.from)) / 86_400_000 + 1;
        if (days > MAX_DAILY_ROWS) throw new ToolError(`daily returns at most ${MAX_DAILY_ROWS} days and this period has ${days}: narrow from/to, or use trend or compare_periods for longer periods.`);
        const table = await dailyTable(db, chosen.userId, range);
        return { member_id: chosen.userId, name: chosen.name, ...range, ...table };
      }),
  );

  server.registerTool(
    'trend',
    {
      title: 'Trend of a metric',
      description:
        'One metric over a period (default: the last 30 days): mean, min and max (with their days), the least-squares slope per week, ' +
        'and the mean of the period of the same length just before it, with the change (same unit, and %). ' +
        `Metrics: ${METRIC_LIST}. ${DAY_WORDS}`,
      inputSchema: INPUTS.trend,
      annotations: READ_ONLY,
    },
    (input) =>
      answer(context, 'trend', async () => {
        const chosen = await resolveMember(context, input.member);
        const result = await trend(db, chosen.userId, input.metric, resolvePeriod(input, timezone));
        return { member_id: chosen.userId, ...result };
      }),
  );

  server.registerTool(
    'compare_periods',
    {
      title: 'Compare two periods',
      description:
        'Every metric\'s mean in period a and in period b, side by side, with the number of days that had a value and the change from a to b ' +
        `(same unit, and %). E.g. this month against the same month a year ago. Metrics: ${METRIC_LIST}. ${DAY_WORDS}`,
      inputSchema: INPUTS.comparePeriods,
      annotations: READ_ONLY,
    },
    (input) =>
      answer(context, 'compare_periods', async () => {
        const chosen = await resolveMember(context, input.member);
        const a = resolvePeriod({ from: input.a_from, to: input.a_to }, timezone);
        const b = resolvePeriod({ from: input.b_from, to: input.b_to }, timezone);
        return { member_id: chosen.userId, ...(await comparePeriods(db, chosen.userId, a, b)) };
      }),
  );

  server.registerTool(
    'correlate',
    {
      title: 'Correlate two metrics',
      description:
        'Pearson\'s r (−1 to 1) between metric x on a day and metric y lag_days later, over the days of the period that have both, and n, the number of such pairs. ' +
        'E.g. x=day_strain, y=recovery_pct, lag_days=1: does a hard day lower the next morning\'s recovery? r is null with fewer than 3 pairs or a constant metric. ' +
        `Metrics: ${METRIC_LIST}. ${DAY_WORDS}`,
      inputSchema: INPUTS.correlate,
      annotations: READ_ONLY,
    },
    (input) =>
      answer(context, 'correlate', async () => {
        const chosen = await resolveMember(context, input.member);
        const range = resolvePeriod(input, timezone, 90);
        const result = await correlate(db, chosen.userId, input.x, input.y, input.lag_days ?? 0, range);
        return { member_id: chosen.userId, ...result };
      }),
  );

  server.registerTool(
    'workouts',
    {
      title: 'Workouts by sport',
      description:
        'Workouts of a member in a period (default: the last 30 days), by sport: count, total minutes, mean and max strain (0–21), mean heart rate (bpm), ' +
        'distance (km, where recorded) and minutes in heart-rate zones 0 to 5 (zone_minutes[0..5]). ' +
        'A workout belongs to the local date it started on. Optionally one sport (WHOOP\'s sport name, e.g. running).',
      inputSchema: INPUTS.workouts,
      annotations: READ_ONLY,
    },
    (input) =>
      answer(context, 'workouts', async () => {
        const chosen = await resolveMember(context, input.member);
        const range = resolvePeriod(input, timezone);
        const sports = await workoutsBySport(db, chosen.userId, range, input.sport);
        return { member_id: chosen.userId, ...range, sports };
      }),
  );

  server.registerTool(
    'sleep',
    {
      title: 'Sleep over a period',
      description:
        'The main sleeps (one per WHOOP day, naps left out) of a member in a period (default: the last 30 days): number of nights, mean hours asleep, ' +
        'light, deep (slow-wave) and REM, mean sleep need and the part of it from sleep debt (hours), mean performance and efficiency (%), and the shortest and longest night. ' +
        DAY_WORDS,
      inputSchema: INPUTS.period,
      annotations: READ_ONLY,
    },
    (input) =>
      answer(context, 'sleep', async () => {
        const chosen = await resolveMember(context, input.member);
        return { member_id: chosen.userId, ...(await sleepSummary(db, chosen.userId, resolvePeriod(input, timezone))) };
      }),
  );

  server.registerTool(
    'sync_status',
    {
      title: 'Sync status',
      description:
        'Who is connected and how fresh their data is: per member, whether the WHOOP account needs reconnecting (and where), the first and last WHOOP day stored, ' +
        'the newest cycle, sleep and workout, and when records were last written; whether their whole WHOOP history is stored yet (history: percent fetched, ' +
        'back to which day; while it is incomplete, older days are still missing rather than absent); the last successful sync, and the last failure if it came after it. Times are UTC.',
      inputSchema: {},
      annotations: READ_ONLY,
    },
    () =>
      answer(context, 'sync_status', async () => {
        const status = await syncStatus(db);
        const scoped = context.onlyMember !== undefined;
        // A failure's message may name any member: a member's token sees only when it happened.
        const failure = status.lastFailure;
        const lastFailure = failure && (scoped ? { finishedAt: failure.finishedAt } : failure);
        return {
          today: localDay(new Date(), timezone),
          last_successful_sync: status.lastSuccessfulSync,
          ...(lastFailure ? { last_failure: lastFailure } : {}),
          members: status.members.filter((m) => !scoped || m.userId === context.onlyMember).map((m) => ({
            member_id: m.userId,
            name: m.name,
            needs_reconnect: m.tokenStatus !== 'active',
            ...(m.tokenStatus !== 'active' ? { reconnect_at: context.connectUrl, reason: m.statusReason ?? 'no WHOOP grant is stored' } : {}),
            first_day: m.oldestDay,
            last_day: m.newestDay,
            days_stored: m.days,
            newest_cycle_start: m.newestCycleStart,
            newest_sleep_end: m.newestSleepEnd,
            newest_workout_start: m.newestWorkoutStart,
            records_last_written: m.lastRecordSyncedAt,
            history: m.history
              ? {
                  complete: m.history.complete,
                  percent_fetched: m.history.percent,
                  back_to: m.history.reached,
                  since: m.history.since,
                }
              : null,
          })),
        };
      }),
  );

  server.registerPrompt(
    'weekly_review',
    {
      title: 'Weekly review',
      description: 'A review of a member\'s last seven days against the four weeks before, from the tools of this server.',
      argsSchema: INPUTS.weeklyReview,
    },
    ({ member: who }) => ({
      messages: [
        {
          role: 'user',
          content: {
            type: 'text',
            text:
              `Review the last seven days of WHOOP data${who ? ` for member ${who}` : ''}. Call sync_status first and say if the data is stale or the account needs reconnecting. ` +
              'Then use compare_periods (the last 7 days as b, the 28 days before them as a), sleep for the last 7 days, workouts for the last 7 days, ' +
              'and correlate day_strain with recovery_pct at lag_days 1 over the last 90 days. ' +
              'Write a short review: how recovery, HRV, resting heart rate, sleep and strain moved, what stands out, and one or two concrete suggestions. ' +
              'Quote numbers with their units, and say when there are too few days to tell.',
          },
        },
      ],
    }),
  );

  return server;
}
