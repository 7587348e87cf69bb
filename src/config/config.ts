// Configuration: read once from the environment at start-up, validated, typed, and then passed to
// whatever needs it. Nothing else in the service reads process.env.
import { Cron } from 'croner';
import { z } from 'zod';
import { MAX_DAYS, MIN_DAYS, parseDays } from './days.js';

export const DEFAULT_SCHEDULES = '0 8 * * * = 3; 0 13 * * * = 3; 0 9 * * 0 = 30';

const DEFAULT_DIGEST_DAILY = '30 8 * * *';
const DEFAULT_DIGEST_WEEKLY = '30 9 * * 0';

export interface Schedule {
  /** Five- or six-field cron expression, evaluated in SYNC_TIMEZONE. */
  cron: string;
  /** Size of the window each run syncs, in days. */
  days: number;
}

// Docker's env files and shell exports often leave variables present but empty: treat those as unset.
const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value) => (typeof value === 'string' && value.trim() === '' ? undefined : value), schema.optional());

const text = () => z.string().trim().min(1);

const httpUrl = (message: string) =>
  text().refine((value) => {
    try {
      const url = new URL(value);
      return url.protocol === 'http:' || url.protocol === 'https:';
    } catch {
      return false;
    }
  }, message);

const list = optional(z.string())
  .transform((value) => (value ?? '').split(',').map((item) => item.trim()).filter(Boolean));

const integer = (min: number, max: number) =>
  z.coerce.number({ message: 'must be a number' }).int('must be a whole number').min(min, `must be at least ${min}`).max(max, `must be at most ${max}`);

const KEY_FORMAT = 'must be 32 bytes, as 64 hex characters or base64 (e.g. openssl rand -base64 32)';

/** A 256-bit key written as 64 hex characters or as base64 (44 characters; the URL-safe alphabet works too). */
function parseEncryptionKey(value: string): Buffer | undefined {
  const text = value.trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(text)) {
    const key = Buffer.from(text, 'base64');
    if (key.length === 32) return key;
  }
  return undefined;
}

const encryptionKey = text().refine((value) => parseEncryptionKey(value) !== undefined, KEY_FORMAT);

const encryptionKeys = list.transform((keys, context) => {
  const parsed = keys.map(parseEncryptionKey);
  const bad = parsed.findIndex((key) => key === undefined);
  if (bad >= 0) {
    // Names the position, never the value: keys are secrets.
    const which = keys.length > 1 ? `key ${bad + 1} of ${keys.length}` : 'the key';
    context.addIssue({ code: 'custom', message: `${which} ${KEY_FORMAT}` });
    return z.NEVER;
  }
  return parsed as Buffer[];
});

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const envSchema = z.object({
  PORT: optional(integer(0, 65535)).default(3000),
  HOST: optional(text()).default('0.0.0.0'),
  LOG_LEVEL: optional(z.enum(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(', ')}` })).default('info'),
  DATABASE_URL: optional(
    text().refine((value) => /^postgres(ql)?:\/\/.+/.test(value), 'must be a postgres:// or postgresql:// URL'),
  ),
  DATA_DIR: optional(text()).default('./data'),
  PUBLIC_URL: optional(httpUrl('must be an http:// or https:// URL')),
  SLACK_SIGNING_SECRET: optional(text()),
  SLACK_BOT_TOKEN: optional(text()),
  SLACK_APP_TOKEN: optional(
    text().refine(
      (value) => /^xapp-[A-Za-z0-9-]+$/.test(value),
      'must be an app-level token (xapp-…): Basic Information → App-Level Tokens, with the scope connections:write',
    ),
  ),
  SLACK_API_URL: optional(httpUrl('must be an http:// or https:// URL')).default('https://slack.com/api/'),
  SLACK_REPORT_CHANNEL: optional(text()),
  SLACK_RESULT_RETRY_SECONDS: optional(integer(1, 86_400)).default(1800),
  SLACK_ALLOWED_USER_IDS: list,
  SLACK_ALLOWED_CHANNEL_IDS: list,
  SLACK_TEAM_ID: optional(text().regex(/^[TE][A-Z0-9]{2,31}$/, 'must be a Slack workspace id such as T0123ABCD')),
  SLACK_APP_ID: optional(text().regex(/^A[A-Z0-9]{2,31}$/, 'must be a Slack app id such as A0123ABCD')),
  WHOOP_CLIENT_ID: optional(text()),
  WHOOP_CLIENT_SECRET: optional(text()),
  WHOOP_API_URL: optional(httpUrl('must be an http:// or https:// URL')).default('https://api.prod.whoop.com'),
  WHOOP_REFRESH_TOKEN: optional(text()),
  WHOOP_ACCESS_TOKEN: optional(text()),
  WHOOP_REQUEST_TIMEOUT_SECONDS: optional(integer(1, 600)).default(15),
  WHOOP_RATE_LIMIT_PER_MINUTE: optional(integer(1, 100_000)).default(100),
  WHOOP_RATE_LIMIT_PER_DAY: optional(integer(1, 10_000_000)).default(10_000),
  WHOOP_HISTORY_SINCE: optional(
    text().refine((value) => {
      if (value === 'off') return true;
      const date = new Date(`${value}T00:00:00Z`);
      return /^\d{4}-\d{2}-\d{2}$/.test(value) && !Number.isNaN(date.getTime()) && date.toISOString().startsWith(value) && date.getTime() <= Date.now();
    }, 'must be a date such as 2019-03-02 (YYYY-MM-DD), not in the future, or off'),
  ),
  TOKEN_MAX_AGE_DAYS: optional(
    z.coerce.number({ message: 'must be a number' }).positive('must be greater than 0').max(3650, 'must be at most 3650'),
  ).default(20),
  TOKEN_ENCRYPTION_KEY: optional(encryptionKey),
  TOKEN_ENCRYPTION_PREVIOUS_KEYS: encryptionKeys,
  SYNC_TIMEZONE: optional(
    text().refine((zone) => {
      try {
        new Intl.DateTimeFormat('en-US', { timeZone: zone });
        return true;
      } catch {
        return false;
      }
    }, 'must be an IANA time zone such as UTC or Europe/Berlin'),
  ).default('UTC'),
  SYNC_SCHEDULES: optional(z.string()).default(DEFAULT_SCHEDULES),
  SYNC_DEADLINE_SECONDS: optional(integer(1, 86_400)).default(900),
  METRICS_TOKEN: optional(text()),
  // It opens every member's health data to whoever holds it: long enough not to be guessed.
  MCP_TOKEN: optional(
    text().min(32, 'must be at least 32 characters (e.g. openssl rand -hex 32): it gives access to every member\'s health data'),
  ),
  DASHBOARD_PASSWORD: optional(text()),
  DASHBOARD_SESSION_DAYS: optional(integer(1, 365)).default(7),
  SLACK_DIGEST_CHANNEL: optional(text()),
  DIGEST_DAILY: optional(text()).default(DEFAULT_DIGEST_DAILY),
  DIGEST_WEEKLY: optional(text()).default(DEFAULT_DIGEST_WEEKLY),
  TRUST_PROXY: optional(
    text().refine(
      (value) => /^(true|false|\d{1,2})$/i.test(value) || value.split(',').every((part) => /^[0-9a-fA-F.:/]+$/.test(part.trim())),
      'must be true, false, a number of proxy hops, or a comma-separated list of proxy addresses/CIDRs',
    ),
  ),
});

export interface Config {
  port: number;
  host: string;
  logLevel: (typeof LOG_LEVELS)[number];
  /** Set: that PostgreSQL server. Unset: the embedded PostgreSQL server, its data under dataDir. */
  databaseUrl: string | undefined;
  dataDir: string;
  /** External base URL without a trailing slash. */
  publicUrl: string;
  slack: {
    signingSecret: string | undefined;
    botToken: string | undefined;
    /**
     * App-level token (`xapp-…`): set, slash commands also arrive over Socket Mode, and no signing secret is
     * needed.
     */
    appToken: string | undefined;
    /** Always ends with `/`, as @slack/web-api requires. */
    apiUrl: string;
    reportChannel: string | undefined;
    /** How long after a sync an undeliverable result message is still retried. */
    resultRetryMs: number;
    allowedUserIds: string[];
    allowedChannelIds: string[];
    /** Commands from another workspace are refused; unset, it is learned from auth.test when a bot token is set. */
    teamId: string | undefined;
    /** Commands from another app are refused; unset, not checked. */
    appId: string | undefined;
  };
  whoop: {
    clientId: string | undefined;
    clientSecret: string | undefined;
    /** Without a trailing slash. */
    apiUrl: string;
    seedRefreshToken: string | undefined;
    seedAccessToken: string | undefined;
    tokenMaxAgeDays: number;
    /** How long one WHOOP request (answer and body) may take before it is abandoned and retried. */
    requestTimeoutMs: number;
    /** WHOOP's budget for this app, shared by every process on the database. */
    budget: { perMinute: number; perDay: number };
    /** How far back a member's whole history is fetched (WHOOP_HISTORY_SINCE, UTC midnight); undefined: all of it. */
    historySince: Date | undefined;
    /** False with WHOOP_HISTORY_SINCE=off: no history on connect, only by hand (`npm run sync -- --all`). */
    historyOnConnect: boolean;
  };
  /**
   * Encryption at rest of the stored WHOOP tokens (AES-256-GCM). `key` encrypts (and decrypts); the
   * previous keys only decrypt, so that rows written under them can be re-encrypted during a key rotation.
   * No key: tokens are stored as they are.
   */
  tokenEncryption: {
    key?: Buffer;
    previousKeys: Buffer[];
  };
  sync: {
    timezone: string;
    schedules: Schedule[];
    /** A sync still listing after this long stops its listings with an error instead of holding up the worker. */
    deadlineMs: number;
  };
  /** The morning digest and the weekly report: cron expressions in sync.timezone, null when `off`. */
  digest: {
    /** Unset: no digests at all. */
    channel: string | undefined;
    daily: string | null;
    weekly: string | null;
  };
  metricsToken: string | undefined;
  /** Set: POST /mcp (Model Context Protocol) and the export routes accept `Authorization: Bearer <token>`. */
  mcpToken: string | undefined;
  /** The dashboard is enabled by its password; a sign-in lasts sessionDays. */
  dashboard: {
    password: string | undefined;
    sessionDays: number;
  };
  /**
   * Whether to believe X-Forwarded-For (Fastify's trustProxy): behind a reverse proxy, the client's
   * address (which rate limits and logs use) is only known through it.
   */
  trustProxy: boolean | number | string[];
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((line) => `  ${line}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Parses SYNC_SCHEDULES: entries separated by `;`, each `<cron expression> = <days>`, the days read by the
 * rule every entry point shares (src/config/days.ts: a whole number, clamped into [1, 365]).
 * `off` (or `none`) disables scheduled syncs. Returns the schedules or the problem with the first bad entry.
 */
export function parseSchedules(value: string): Schedule[] | string {
  const trimmed = value.trim();
  if (trimmed === '' ) return parseSchedules(DEFAULT_SCHEDULES);
  if (/^(off|none)$/i.test(trimmed)) return [];
  const schedules: Schedule[] = [];
  for (const entry of trimmed.split(';').map((part) => part.trim()).filter(Boolean)) {
    const match = /^(.+?)\s*=\s*(\S+)$/.exec(entry);
    if (!match) return `entry "${entry}" must look like "<cron expression> = <days>", e.g. "0 8 * * * = 3"`;
    const [, cron, daysText] = match as unknown as [string, string, string];
    const days = parseDays(daysText);
    if (days === undefined) return `entry "${entry}": days must be a whole number (kept between ${MIN_DAYS} and ${MAX_DAYS})`;
    try {
      new Cron(cron, { paused: true }).stop();
    } catch (error) {
      return `entry "${entry}": invalid cron expression (${(error as Error).message})`;
    }
    schedules.push({ cron, days });
  }
  return schedules;
}

/** A digest's cron expression, null for `off`, or the problem. */
function parseDigestCron(value: string): { cron: string | null } | string {
  if (/^off$/i.test(value.trim())) return { cron: null };
  try {
    new Cron(value.trim(), { paused: true }).stop();
    return { cron: value.trim() };
  } catch (error) {
    return `invalid cron expression (${(error as Error).message}); use e.g. "30 8 * * *" or off`;
  }
}

function parseTrustProxy(value: string | undefined): boolean | number | string[] {
  if (value === undefined || /^false$/i.test(value)) return false;
  if (/^true$/i.test(value)) return true;
  if (/^\d+$/.test(value)) return Number(value);
  return value.split(',').map((part) => part.trim());
}

function withTrailingSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

function withoutTrailingSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

/**
 * The process environment, after `.env` in the working directory (when there is one) has filled in what
 * it does not set: a variable already in the environment wins over the file, also when it is empty
 * (process.loadEnvFile never overwrites one, on Node 20, 22 and 24 alike; see docs/node-versions.md).
 */
export function readEnvironment(): Record<string, string | undefined> {
  try {
    process.loadEnvFile();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ConfigError([`.env: cannot be read (${(error as Error).message})`]);
    }
  }
  return process.env;
}

/** Validates the environment once. Throws a ConfigError listing one line per invalid variable. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const parsed = envSchema.safeParse(env);
  const problems: string[] = [];
  if (!parsed.success) {
    const seen = new Set<string>();
    for (const issue of parsed.error.issues) {
      const name = String(issue.path[0] ?? 'environment');
      if (seen.has(name)) continue; // one line per variable
      seen.add(name);
      problems.push(`${name}: ${issue.message}`);
    }
    throw new ConfigError(problems);
  }
  const e = parsed.data;
  const schedules = parseSchedules(e.SYNC_SCHEDULES);
  if (typeof schedules === 'string') problems.push(`SYNC_SCHEDULES: ${schedules}`);
  const daily = parseDigestCron(e.DIGEST_DAILY);
  if (typeof daily === 'string') problems.push(`DIGEST_DAILY: ${daily}`);
  const weekly = parseDigestCron(e.DIGEST_WEEKLY);
  if (typeof weekly === 'string') problems.push(`DIGEST_WEEKLY: ${weekly}`);
  if (e.WHOOP_ACCESS_TOKEN && !e.WHOOP_REFRESH_TOKEN) {
    problems.push('WHOOP_ACCESS_TOKEN: is only used together with WHOOP_REFRESH_TOKEN, which is unset');
  }
  if (e.TOKEN_ENCRYPTION_PREVIOUS_KEYS.length > 0 && !e.TOKEN_ENCRYPTION_KEY) {
    problems.push('TOKEN_ENCRYPTION_PREVIOUS_KEYS: is only used together with TOKEN_ENCRYPTION_KEY, which is unset');
  }
  if (problems.length > 0 || typeof schedules === 'string' || typeof daily === 'string' || typeof weekly === 'string') {
    throw new ConfigError(problems);
  }
  const key = e.TOKEN_ENCRYPTION_KEY ? parseEncryptionKey(e.TOKEN_ENCRYPTION_KEY) : undefined;
  const previousKeys: Buffer[] = [];
  for (const previous of e.TOKEN_ENCRYPTION_PREVIOUS_KEYS) {
    // The current key and repeats add nothing.
    if (!(key && previous.equals(key)) && !previousKeys.some((known) => known.equals(previous))) {
      previousKeys.push(previous);
    }
  }

  return {
    port: e.PORT,
    host: e.HOST,
    logLevel: e.LOG_LEVEL,
    databaseUrl: e.DATABASE_URL,
    dataDir: e.DATA_DIR,
    publicUrl: withoutTrailingSlash(e.PUBLIC_URL ?? `http://localhost:${e.PORT}`),
    slack: {
      signingSecret: e.SLACK_SIGNING_SECRET,
      botToken: e.SLACK_BOT_TOKEN,
      appToken: e.SLACK_APP_TOKEN,
      apiUrl: withTrailingSlash(e.SLACK_API_URL),
      reportChannel: e.SLACK_REPORT_CHANNEL,
      resultRetryMs: e.SLACK_RESULT_RETRY_SECONDS * 1000,
      allowedUserIds: e.SLACK_ALLOWED_USER_IDS,
      allowedChannelIds: e.SLACK_ALLOWED_CHANNEL_IDS,
      teamId: e.SLACK_TEAM_ID,
      appId: e.SLACK_APP_ID,
    },
    whoop: {
      clientId: e.WHOOP_CLIENT_ID,
      clientSecret: e.WHOOP_CLIENT_SECRET,
      apiUrl: withoutTrailingSlash(e.WHOOP_API_URL),
      seedRefreshToken: e.WHOOP_REFRESH_TOKEN,
      seedAccessToken: e.WHOOP_ACCESS_TOKEN,
      tokenMaxAgeDays: e.TOKEN_MAX_AGE_DAYS,
      requestTimeoutMs: e.WHOOP_REQUEST_TIMEOUT_SECONDS * 1000,
      budget: { perMinute: e.WHOOP_RATE_LIMIT_PER_MINUTE, perDay: e.WHOOP_RATE_LIMIT_PER_DAY },
      historySince: e.WHOOP_HISTORY_SINCE && e.WHOOP_HISTORY_SINCE !== 'off' ? new Date(`${e.WHOOP_HISTORY_SINCE}T00:00:00Z`) : undefined,
      historyOnConnect: e.WHOOP_HISTORY_SINCE !== 'off',
    },
    tokenEncryption: { ...(key ? { key } : {}), previousKeys },
    sync: { timezone: e.SYNC_TIMEZONE, schedules, deadlineMs: e.SYNC_DEADLINE_SECONDS * 1000 },
    digest: { channel: e.SLACK_DIGEST_CHANNEL, daily: daily.cron, weekly: weekly.cron },
    metricsToken: e.METRICS_TOKEN,
    mcpToken: e.MCP_TOKEN,
    dashboard: { password: e.DASHBOARD_PASSWORD, sessionDays: e.DASHBOARD_SESSION_DAYS },
    trustProxy: parseTrustProxy(e.TRUST_PROXY),
  };
}
