import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseSchedules } from '../src/config/config.js';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('has the documented defaults with an empty environment', () => {
    const config = loadConfig({});
    expect(config.port).toBe(3000);
    expect(config.host).toBe('0.0.0.0');
    expect(config.logLevel).toBe('info');
    expect(config.databaseUrl).toBeUndefined();
    expect(config.dataDir).toBe('./data');
    expect(config.publicUrl).toBe('http://localhost:3000');
    expect(config.slack.apiUrl).toBe('https://slack.com/api/');
    expect(config.slack.allowedUserIds).toEqual([]);
    expect(config.whoop.apiUrl).toBe('https://api.prod.whoop.com');
    expect(config.whoop.tokenMaxAgeDays).toBe(20);
    expect(config.sync.timezone).toBe('UTC');
    expect(config.sync.schedules).toEqual([
      { cron: '0 8 * * *', days: 3 },
      { cron: '0 13 * * *', days: 3 },
      { cron: '0 9 * * 0', days: 30 },
    ]);
    expect(config.metricsToken).toBeUndefined();
    expect(config.tokenEncryption).toEqual({ previousKeys: [] });
  });

  it('reads and normalises every variable', () => {
    const config = loadConfig({
      PORT: '8080',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'debug',
      DATABASE_URL: 'postgresql://u:p@db:5432/whoop',
      DATA_DIR: '/var/lib/whoop',
      PUBLIC_URL: 'https://whoop.example.com/',
      SLACK_SIGNING_SECRET: 'secret',
      SLACK_BOT_TOKEN: 'xoxb-1',
      SLACK_API_URL: 'http://127.0.0.1:9999/api',
      SLACK_REPORT_CHANNEL: 'C123',
      SLACK_ALLOWED_USER_IDS: 'U1, U2,,',
      SLACK_ALLOWED_CHANNEL_IDS: 'C1',
      WHOOP_CLIENT_ID: 'id',
      WHOOP_CLIENT_SECRET: 'client-secret',
      WHOOP_API_URL: 'http://127.0.0.1:9998/',
      WHOOP_REFRESH_TOKEN: 'r',
      WHOOP_ACCESS_TOKEN: 'a',
      TOKEN_MAX_AGE_DAYS: '7.5',
      WHOOP_REQUEST_TIMEOUT_SECONDS: '40',
      SYNC_TIMEZONE: 'Europe/Berlin',
      SYNC_SCHEDULES: '*/15 * * * * = 1',
      SYNC_DEADLINE_SECONDS: '120',
      METRICS_TOKEN: 'm',
    });
    expect(config.port).toBe(8080);
    expect(config.publicUrl).toBe('https://whoop.example.com');
    expect(config.slack.apiUrl).toBe('http://127.0.0.1:9999/api/');
    expect(config.slack.allowedUserIds).toEqual(['U1', 'U2']);
    expect(config.whoop.apiUrl).toBe('http://127.0.0.1:9998');
    expect(config.whoop.tokenMaxAgeDays).toBe(7.5);
    expect(config.whoop.requestTimeoutMs).toBe(40_000);
    expect(loadConfig({}).whoop.requestTimeoutMs).toBe(15_000);
    expect(config.sync).toEqual({ timezone: 'Europe/Berlin', schedules: [{ cron: '*/15 * * * *', days: 1 }], deadlineMs: 120_000 });
    expect(loadConfig({}).sync.deadlineMs).toBe(900_000);
  });

  it('reads MCP_TOKEN, refusing one short enough to guess without echoing it', () => {
    expect(loadConfig({}).mcpToken).toBeUndefined();
    const token = 'a'.repeat(32);
    expect(loadConfig({ MCP_TOKEN: token }).mcpToken).toBe(token);
    expect(() => loadConfig({ MCP_TOKEN: 'short-secret' })).toThrow(/^Invalid configuration:\n {2}MCP_TOKEN: must be at least 32 characters/);
    try {
      loadConfig({ MCP_TOKEN: 'short-secret' });
    } catch (error) {
      expect((error as Error).message).not.toContain('short-secret');
    }
  });

  it('reads WHOOP_HISTORY_SINCE as a past date or off, refusing anything else', () => {
    expect(loadConfig({}).whoop).toMatchObject({ historySince: undefined, historyOnConnect: true });
    expect(loadConfig({ WHOOP_HISTORY_SINCE: '2019-03-02' }).whoop).toMatchObject({
      historySince: new Date('2019-03-02T00:00:00Z'),
      historyOnConnect: true,
    });
    expect(loadConfig({ WHOOP_HISTORY_SINCE: 'off' }).whoop).toMatchObject({ historySince: undefined, historyOnConnect: false });
    for (const value of ['2019-02-30', '2019-3-2', 'yesterday', '2999-01-01']) {
      expect(problemsOf({ WHOOP_HISTORY_SINCE: value })).toEqual([
        'WHOOP_HISTORY_SINCE: must be a date such as 2019-03-02 (YYYY-MM-DD), not in the future, or off',
      ]);
    }
  });

  it('treats empty variables as unset', () => {
    const config = loadConfig({ PORT: '', DATABASE_URL: ' ', SLACK_SIGNING_SECRET: '' });
    expect(config.port).toBe(3000);
    expect(config.databaseUrl).toBeUndefined();
    expect(config.slack.signingSecret).toBeUndefined();
  });

  it('takes an app-level token for Socket Mode, which needs no signing secret', () => {
    const config = loadConfig({ SLACK_APP_TOKEN: 'xapp-1-A0APP00001-1234-abcdef', SLACK_BOT_TOKEN: 'xoxb-1' });
    expect(config.slack.appToken).toBe('xapp-1-A0APP00001-1234-abcdef');
    expect(config.slack.signingSecret).toBeUndefined();
    expect(loadConfig({ SLACK_APP_TOKEN: '' }).slack.appToken).toBeUndefined();
    // A bot or user token in its place is refused at start-up, before Slack would answer not_allowed_token_type.
    for (const token of ['xoxb-123-456-abc', 'xoxp-1', 'not-a-token']) {
      expect(problemsOf({ SLACK_APP_TOKEN: token })).toEqual([
        'SLACK_APP_TOKEN: must be an app-level token (xapp-…): Basic Information → App-Level Tokens, with the scope connections:write',
      ]);
    }
  });

  it('reads SLACK_TEAM_ID and SLACK_APP_ID as Slack ids, refusing anything else', () => {
    expect(loadConfig({ SLACK_TEAM_ID: ' T0123ABCD ', SLACK_APP_ID: 'A0123ABCD' }).slack).toMatchObject({ teamId: 'T0123ABCD', appId: 'A0123ABCD' });
    expect(loadConfig({}).slack).toMatchObject({ teamId: undefined, appId: undefined });
    expect(problemsOf({ SLACK_TEAM_ID: 'my-team', SLACK_APP_ID: 'T0123ABCD' })).toEqual([
      'SLACK_TEAM_ID: must be a Slack workspace id such as T0123ABCD',
      'SLACK_APP_ID: must be a Slack app id such as A0123ABCD',
    ]);
  });

  it('reports one line per invalid variable, naming it', () => {
    const problems = problemsOf({
      PORT: 'eighty',
      LOG_LEVEL: 'loud',
      DATABASE_URL: 'mysql://x',
      PUBLIC_URL: 'not a url',
      TOKEN_MAX_AGE_DAYS: '-1',
      WHOOP_REQUEST_TIMEOUT_SECONDS: '0',
      SYNC_TIMEZONE: 'Mars/Olympus',
      SYNC_DEADLINE_SECONDS: '0',
    });
    expect(problems).toEqual([
      'PORT: must be a number',
      'LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent',
      'DATABASE_URL: must be a postgres:// or postgresql:// URL',
      'PUBLIC_URL: must be an http:// or https:// URL',
      'WHOOP_REQUEST_TIMEOUT_SECONDS: must be at least 1',
      'TOKEN_MAX_AGE_DAYS: must be greater than 0',
      'SYNC_TIMEZONE: must be an IANA time zone such as UTC or Europe/Berlin',
      'SYNC_DEADLINE_SECONDS: must be at least 1',
    ]);
  });

  it('reads TRUST_PROXY as a flag, a hop count or a list of proxy addresses', () => {
    expect(loadConfig({}).trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(loadConfig({ TRUST_PROXY: '1' }).trustProxy).toBe(1);
    expect(loadConfig({ TRUST_PROXY: '127.0.0.1, 10.0.0.0/8' }).trustProxy).toEqual(['127.0.0.1', '10.0.0.0/8']);
    expect(problemsOf({ TRUST_PROXY: 'yes please' })).toEqual([
      'TRUST_PROXY: must be true, false, a number of proxy hops, or a comma-separated list of proxy addresses/CIDRs',
    ]);
  });

  it('refuses out-of-range ports and an access token without a refresh token', () => {
    expect(problemsOf({ PORT: '70000' })).toEqual(['PORT: must be at most 65535']);
    // The connect-WHOOP link in Slack messages is built from PUBLIC_URL, so it is never a javascript: URL.
    expect(problemsOf({ PUBLIC_URL: 'javascript:alert(1)' })).toEqual(['PUBLIC_URL: must be an http:// or https:// URL']);
    expect(problemsOf({ WHOOP_ACCESS_TOKEN: 'a' })).toEqual([
      'WHOOP_ACCESS_TOKEN: is only used together with WHOOP_REFRESH_TOKEN, which is unset',
    ]);
  });

  it('validates SYNC_SCHEDULES entries', () => {
    expect(parseSchedules('off')).toEqual([]);
    expect(parseSchedules('0 6 * * 1-5=2 ; 30 21 * * * = 1')).toEqual([
      { cron: '0 6 * * 1-5', days: 2 },
      { cron: '30 21 * * *', days: 1 },
    ]);
    expect(problemsOf({ SYNC_SCHEDULES: '0 8 * * *' })[0]).toMatch(/^SYNC_SCHEDULES: entry "0 8 \* \* \*" must look like/);
    // Days follow the one rule of src/config/days.ts: a whole number, clamped into [1, 365].
    expect(parseSchedules('0 8 * * * = 0; 0 9 * * * = 400; 0 10 * * * = +7')).toEqual([
      { cron: '0 8 * * *', days: 1 },
      { cron: '0 9 * * *', days: 365 },
      { cron: '0 10 * * *', days: 7 },
    ]);
    expect(problemsOf({ SYNC_SCHEDULES: '0 8 * * * = 7.5' })[0]).toBe('SYNC_SCHEDULES: entry "0 8 * * * = 7.5": days must be a whole number (kept between 1 and 365)');
    expect(problemsOf({ SYNC_SCHEDULES: '0 99 * * * = 3' })[0]).toMatch(/^SYNC_SCHEDULES: entry "0 99 \* \* \* = 3": invalid cron expression/);
  });

  describe('token encryption keys', () => {
    const KEY_PROBLEM = 'must be 32 bytes, as 64 hex characters or base64 (e.g. openssl rand -base64 32)';
    const bytes = (seed: string) => createHash('sha256').update(seed).digest();
    const a = bytes('a');
    const b = bytes('b');
    const c = bytes('c');

    it('reads a key given as 64 hex characters or as base64', () => {
      expect(loadConfig({ TOKEN_ENCRYPTION_KEY: a.toString('hex') }).tokenEncryption).toEqual({ key: a, previousKeys: [] });
      expect(loadConfig({ TOKEN_ENCRYPTION_KEY: a.toString('hex').toUpperCase() }).tokenEncryption.key).toEqual(a);
      expect(loadConfig({ TOKEN_ENCRYPTION_KEY: a.toString('base64') }).tokenEncryption.key).toEqual(a);
      expect(loadConfig({ TOKEN_ENCRYPTION_KEY: ` ${a.toString('base64')} ` }).tokenEncryption.key).toEqual(a);
      expect(loadConfig({ TOKEN_ENCRYPTION_KEY: a.toString('base64url') }).tokenEncryption.key).toEqual(a);
      expect(loadConfig({ TOKEN_ENCRYPTION_KEY: '' }).tokenEncryption).toEqual({ previousKeys: [] });
    });

    it('reads the previous keys, in order, without repeats or the current key', () => {
      const config = loadConfig({
        TOKEN_ENCRYPTION_KEY: a.toString('base64'),
        TOKEN_ENCRYPTION_PREVIOUS_KEYS: ` ${b.toString('hex')}, ${c.toString('base64')},${b.toString('base64')}, ${a.toString('hex')},`,
      });
      expect(config.tokenEncryption).toEqual({ key: a, previousKeys: [b, c] });
    });

    it('refuses keys of the wrong size or format in one line, without echoing them', () => {
      for (const bad of ['secret', a.toString('hex').slice(0, 62), `${a.toString('hex')}00`, bytes('x').subarray(0, 16).toString('base64'), `${a.toString('base64').slice(0, 42)}!=`]) {
        const problems = problemsOf({ TOKEN_ENCRYPTION_KEY: bad });
        expect(problems).toEqual([`TOKEN_ENCRYPTION_KEY: ${KEY_PROBLEM}`]);
      }
      expect(problemsOf({ TOKEN_ENCRYPTION_KEY: a.toString('hex'), TOKEN_ENCRYPTION_PREVIOUS_KEYS: `${b.toString('hex')},nope` })).toEqual([
        `TOKEN_ENCRYPTION_PREVIOUS_KEYS: key 2 of 2 ${KEY_PROBLEM}`,
      ]);
      expect(problemsOf({ TOKEN_ENCRYPTION_KEY: a.toString('hex'), TOKEN_ENCRYPTION_PREVIOUS_KEYS: 'abc' })).toEqual([
        `TOKEN_ENCRYPTION_PREVIOUS_KEYS: the key ${KEY_PROBLEM}`,
      ]);
    });

    it('refuses previous keys without a current key', () => {
      expect(problemsOf({ TOKEN_ENCRYPTION_PREVIOUS_KEYS: b.toString('base64') })).toEqual([
        'TOKEN_ENCRYPTION_PREVIOUS_KEYS: is only used together with TOKEN_ENCRYPTION_KEY, which is unset',
      ]);
      expect(loadConfig({ TOKEN_ENCRYPTION_PREVIOUS_KEYS: ' , ' }).tokenEncryption).toEqual({ previousKeys: [] });
    });
  });
});
