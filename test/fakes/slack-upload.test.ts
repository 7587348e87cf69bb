// The fake Slack's external file upload flow, driven by the real WebClient's filesUploadV2.
import { LogLevel, WebClient } from '@slack/web-api';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeSlack, type FakeSlack } from './slack-server.js';

describe('fake Slack file uploads', () => {
  let fake: FakeSlack;
  beforeAll(async () => {
    fake = await startFakeSlack();
  });
  afterEach(() => fake.reset());
  afterAll(async () => fake?.close());

  const client = () =>
    new WebClient(fake.botToken, { slackApiUrl: fake.apiUrl, retryConfig: { retries: 0 }, logLevel: LogLevel.ERROR });

  it('takes getUploadURLExternal, the upload and completeUploadExternal, and records the file with its message', async () => {
    const bytes = Buffer.from('\x89PNG fake bytes of some length');
    const result = await client().filesUploadV2({ channel_id: 'C123', file: bytes, filename: 'chart.png', title: 'Chart', initial_comment: '*Weekly*' });
    expect(result.ok).toBe(true);
    expect(fake.calls.map((call) => `${call.method} ${call.status}`)).toEqual([
      'files.getUploadURLExternal 200',
      'upload 200',
      'files.completeUploadExternal 200',
    ]);
    const [upload] = await fake.waitForUploads(1);
    expect(upload).toMatchObject({ channel: 'C123', initialComment: '*Weekly*' });
    expect(upload!.files).toEqual([{ id: expect.stringMatching(/^F/), title: 'Chart', filename: 'chart.png', bytes, url: expect.stringMatching(/\/files\/F\w+\/chart\.png$/) }]);
    // Served for a browser, as the demo prints it.
    const served = await fetch(upload!.files[0]!.url);
    expect(served.status).toBe(200);
    expect(served.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await served.arrayBuffer())).toEqual(bytes);
    expect((await fetch(upload!.files[0]!.url.replace(/F\w+/, 'F0NONE'))).status).toBe(404);
  });

  it('refuses to complete a file that was never uploaded, and an upload of another length', async () => {
    const web = client();
    const { file_id, upload_url } = await web.files.getUploadURLExternal({ filename: 'a.png', length: 10 });
    const wrong = await fetch(upload_url!, { method: 'POST', body: 'short' });
    expect(wrong.status).toBe(400);
    await expect(web.files.completeUploadExternal({ files: [{ id: file_id! }], channel_id: 'C1' })).rejects.toThrow(/file_not_found/);
    expect(fake.uploads).toEqual([]);
  });

  it('requires the bot token for the API methods', async () => {
    const other = new WebClient('xoxb-wrong', { slackApiUrl: fake.apiUrl, retryConfig: { retries: 0 }, logLevel: LogLevel.ERROR });
    await expect(other.files.getUploadURLExternal({ filename: 'a.png', length: 10 })).rejects.toThrow(/invalid_auth/);
  });
});
