// The fake Slack must behave like Slack as seen through the real @slack/web-api WebClient, or tests that
// rely on it prove nothing.
import { ErrorCode, LogLevel, WebClient, type WebClientOptions } from '@slack/web-api';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeSlack, type FakeSlack } from './slack-server.js';

describe('fake Slack Web API', () => {
  let fake: FakeSlack;
  beforeAll(async () => {
    fake = await startFakeSlack();
  });
  afterEach(() => fake.reset());
  afterAll(async () => {
    await fake?.close();
  });

  const client = (options: WebClientOptions = {}, token = fake.botToken) =>
    new WebClient(token, {
      slackApiUrl: fake.apiUrl,
      retryConfig: { retries: 0 },
      logLevel: LogLevel.ERROR,
      ...options,
    });

  async function failure(promise: Promise<unknown>): Promise<Record<string, unknown> & Error> {
    try {
      await promise;
    } catch (error) {
      return error as Record<string, unknown> & Error;
    }
    throw new Error('expected the call to fail');
  }

  it('records a posted message as WebClient sends it (form-encoded, blocks as JSON)', async () => {
    const blocks = [{ type: 'section', text: { type: 'mrkdwn', text: '✅ done & <ok>' } }];
    const result = await client().chat.postMessage({ channel: 'C123', text: '✅ synced · 7 days', blocks });
    expect(result.ok).toBe(true);
    expect(result.channel).toBe('C123');
    expect(result.ts).toMatch(/^\d+\.000100$/);
    expect(fake.messages).toHaveLength(1);
    const message = fake.messages[0]!;
    expect(message).toMatchObject({ channel: 'C123', text: '✅ synced · 7 days', blocks, encoding: 'form', ts: result.ts });
    expect(message.at).toBeInstanceOf(Date);
    expect(message.raw).toMatchObject({ channel: 'C123', text: '✅ synced · 7 days', blocks });
    // The token travels in the Authorization header only, never in the body.
    expect(message.raw).not.toHaveProperty('token');
    expect(fake.calls).toEqual([expect.objectContaining({ method: 'chat.postMessage', status: 200 })]);
  });

  it('gives every message a distinct ts', async () => {
    const web = client();
    const first = await web.chat.postMessage({ channel: 'C1', text: 'one' });
    const second = await web.chat.postMessage({ channel: 'C1', text: 'two' });
    expect(first.ts).not.toBe(second.ts);
    expect(await fake.waitForMessages(2)).toHaveLength(2);
  });

  it('accepts JSON bodies too', async () => {
    const response = await fetch(`${fake.apiUrl}chat.postMessage`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fake.botToken}`, 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({ channel: 'C9', text: 'json', blocks: [{ type: 'divider' }] }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ ok: true, channel: 'C9' });
    expect(fake.messages[0]).toMatchObject({ channel: 'C9', text: 'json', blocks: [{ type: 'divider' }], encoding: 'json' });
  });

  it('surfaces a platform error such as not_in_channel the way Slack does', async () => {
    fake.failNext(1, { error: 'not_in_channel' });
    const error = await failure(client().chat.postMessage({ channel: 'C123', text: 'hi' }));
    expect(error.code).toBe(ErrorCode.PlatformError);
    expect(error.code).toBe('slack_webapi_platform_error');
    expect((error.data as { error: string }).error).toBe('not_in_channel');
    expect(fake.messages).toHaveLength(0);
    expect(fake.calls).toEqual([expect.objectContaining({ method: 'chat.postMessage', status: 200, error: 'not_in_channel' })]);
    // The fault is used up: the next call succeeds.
    await client().chat.postMessage({ channel: 'C123', text: 'hi' });
    expect(fake.messages).toHaveLength(1);
  });

  it('answers channel_not_found, no_text and msg_too_long for bad arguments', async () => {
    const web = client();
    const noChannel = await failure(web.apiCall('chat.postMessage', { text: 'hi' }));
    expect((noChannel.data as { error: string }).error).toBe('channel_not_found');
    const noText = await failure(web.apiCall('chat.postMessage', { channel: 'C1' }));
    expect((noText.data as { error: string }).error).toBe('no_text');
    const tooLong = await failure(web.chat.postMessage({ channel: 'C1', text: 'x'.repeat(40_001) }));
    expect((tooLong.data as { error: string }).error).toBe('msg_too_long');
    expect(fake.messages).toHaveLength(0);
  });

  it('surfaces 429 as a rate-limited error when the client rejects rate-limited calls', async () => {
    fake.failNext(1, { status: 429, retryAfterSeconds: 7 });
    const error = await failure(client({ rejectRateLimitedCalls: true }).chat.postMessage({ channel: 'C1', text: 'hi' }));
    expect(error.code).toBe(ErrorCode.RateLimitedError);
    expect(error.retryAfter).toBe(7);
    expect(fake.calls).toEqual([expect.objectContaining({ status: 429, error: 'ratelimited' })]);
  });

  it('lets a retrying client wait out a 429 and succeed', async () => {
    fake.failNext(1, { status: 429, retryAfterSeconds: 0 });
    const web = client({ retryConfig: { retries: 1, minTimeout: 0, maxTimeout: 0 } });
    await web.chat.postMessage({ channel: 'C1', text: 'eventually' });
    expect(fake.calls.map((call) => call.status)).toEqual([429, 200]);
    expect(fake.messages).toHaveLength(1);
  });

  it('fails with an HTTP error on 500, and retries it when allowed', async () => {
    fake.failNext(1, { status: 500 });
    const error = await failure(client().chat.postMessage({ channel: 'C1', text: 'hi' }));
    expect(error.code).toBe(ErrorCode.HTTPError);
    expect(error.statusCode).toBe(500);
    expect(fake.messages).toHaveLength(0);

    fake.failNext(2, { status: 500 });
    await client({ retryConfig: { retries: 2, minTimeout: 0, maxTimeout: 0 } }).chat.postMessage({ channel: 'C1', text: 'hi' });
    expect(fake.calls.map((call) => call.status)).toEqual([500, 500, 500, 200]);
  });

  it('keeps failing with failAlways until cleared, and can target one method', async () => {
    fake.failAlways({ error: 'is_archived' }, { method: 'chat.postMessage' });
    const web = client();
    for (let i = 0; i < 3; i += 1) {
      const error = await failure(web.chat.postMessage({ channel: 'C1', text: 'hi' }));
      expect((error.data as { error: string }).error).toBe('is_archived');
    }
    expect((await web.auth.test()).ok).toBe(true);
    fake.failAlways(null);
    await web.chat.postMessage({ channel: 'C1', text: 'hi' });
    expect(fake.messages).toHaveLength(1);
  });

  it('refuses a wrong or missing token with invalid_auth', async () => {
    const error = await failure(client({}, 'xoxb-wrong').chat.postMessage({ channel: 'C1', text: 'hi' }));
    expect(error.code).toBe(ErrorCode.PlatformError);
    expect((error.data as { error: string }).error).toBe('invalid_auth');
    const anonymous = await fetch(`${fake.apiUrl}chat.postMessage`, { method: 'POST', body: 'channel=C1&text=hi' });
    expect(await anonymous.json()).toEqual({ ok: false, error: 'invalid_auth' });
    expect(fake.messages).toHaveLength(0);
  });

  it('answers auth.test and unknown methods', async () => {
    const auth = await client().auth.test();
    expect(auth).toMatchObject({ ok: true, team_id: expect.any(String), user_id: expect.any(String) });
    const unknown = await failure(client().apiCall('chat.teleport', { channel: 'C1' }));
    expect((unknown.data as { error: string }).error).toBe('unknown_method');
  });

  it('times a slow answer out through the client timeout option', async () => {
    fake.failNext(1, { delayMs: 2_000 });
    const started = Date.now();
    const error = await failure(client({ timeout: 200 }).chat.postMessage({ channel: 'C1', text: 'slow' }));
    expect(error.code).toBe(ErrorCode.RequestError);
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(fake.messages).toHaveLength(0);
  });

  it('drops a connection on request, which the client reports as a request error', async () => {
    fake.failNext(1, { reset: true });
    const error = await failure(client().chat.postMessage({ channel: 'C1', text: 'hi' }));
    expect(error.code).toBe(ErrorCode.RequestError);
  });

  it('records response_url posts and can make them fail', async () => {
    const url = fake.responseUrl('abc123');
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/commands\/abc123$/);
    const ok = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ response_type: 'in_channel', text: '✅ done' }),
    });
    expect(ok.status).toBe(200);
    const [response] = await fake.waitForResponses(1);
    expect(response).toMatchObject({ id: 'abc123', body: { response_type: 'in_channel', text: '✅ done' } });

    fake.failResponseUrls(500);
    const failed = await fetch(fake.responseUrl(), { method: 'POST', body: JSON.stringify({ text: 'x' }) });
    expect(failed.status).toBe(500);
    expect(fake.responses).toHaveLength(1);
    fake.failResponseUrls(null);

    const invalid = await fetch(url, { method: 'POST', body: 'text=not-json' });
    expect(invalid.status).toBe(400);
    expect(fake.calls.filter((call) => call.method === 'response_url').map((call) => call.status)).toEqual([200, 500, 400]);
  });

  it('accepts at most five posts per response URL, like Slack', async () => {
    const url = fake.responseUrl();
    const statuses: number[] = [];
    for (let i = 0; i < 6; i += 1) {
      statuses.push((await fetch(url, { method: 'POST', body: JSON.stringify({ text: String(i) }) })).status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 404]);
    expect(fake.responses).toHaveLength(5);
  });

  it('waits for messages posted later, and times out with a useful error', async () => {
    const waiting = fake.waitForMessages(1, 2_000);
    setTimeout(() => void client().chat.postMessage({ channel: 'C1', text: 'later' }), 50);
    expect((await waiting)[0]!.text).toBe('later');
    await expect(fake.waitForMessages(5, 100)).rejects.toThrow(/expected 5 chat.postMessage messages within 100 ms, got 1/);
  });

  it('closes even with a request in flight and a keep-alive connection open', async () => {
    const other = await startFakeSlack({ botToken: 'xoxb-other' });
    const web = new WebClient('xoxb-other', { slackApiUrl: other.apiUrl, retryConfig: { retries: 0 }, logLevel: LogLevel.ERROR });
    await web.chat.postMessage({ channel: 'C1', text: 'keep-alive' });
    other.failAlways({ delayMs: 10_000 });
    const pending = web.chat.postMessage({ channel: 'C1', text: 'never answered' }).catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = Date.now();
    await other.close();
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(((await pending) as { code?: string }).code).toBe(ErrorCode.RequestError);
  });
});
