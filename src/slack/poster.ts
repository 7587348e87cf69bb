// Delivers result messages: chat.postMessage as the bot, or a command's response_url. Both are bounded
// in time and retries so a Slack outage cannot pile up work.
import { LogLevel, WebClient } from '@slack/web-api';

const TIMEOUT_MS = 10_000;

export class SlackPoster {
  private readonly client: WebClient | undefined;

  constructor(botToken: string | undefined, apiUrl: string) {
    this.client = botToken
      ? new WebClient(botToken, {
          slackApiUrl: apiUrl,
          timeout: TIMEOUT_MS,
          // The default retries for ~30 minutes; a result message is worth a few quick attempts.
          retryConfig: { retries: 2, factor: 2, minTimeout: 500, maxTimeout: 5_000 },
          logLevel: LogLevel.ERROR,
        })
      : undefined;
  }

  get canPost(): boolean {
    return this.client !== undefined;
  }

  /** Posts a visible message; throws with Slack's error code (e.g. `not_in_channel`) in the message. */
  async postMessage(channel: string, text: string, blocks?: unknown[]): Promise<void> {
    if (!this.client) throw new Error('SLACK_BOT_TOKEN is not set');
    try {
      await this.client.chat.postMessage({
        channel,
        text,
        ...(blocks ? { blocks: blocks as never } : {}),
        unfurl_links: false,
        unfurl_media: false,
      });
    } catch (error) {
      const data = (error as { data?: { error?: string } }).data;
      throw new Error(`chat.postMessage failed: ${data?.error ?? (error as Error).message}`, { cause: error });
    }
  }

  /**
   * Shares files in a channel with a message, through Slack's external upload flow (files.getUploadURLExternal →
   * upload → files.completeUploadExternal); needs the `files:write` scope.
   */
  async uploadFiles(
    channel: string,
    message: string,
    files: { data: Buffer; filename: string; title: string }[],
  ): Promise<void> {
    if (!this.client) throw new Error('SLACK_BOT_TOKEN is not set');
    try {
      await this.client.filesUploadV2({
        channel_id: channel,
        initial_comment: message,
        file_uploads: files.map((file) => ({ file: file.data, filename: file.filename, title: file.title })),
      });
    } catch (error) {
      const data = (error as { data?: { error?: string } }).data;
      throw new Error(`file upload failed: ${data?.error ?? (error as Error).message}`, { cause: error });
    }
  }

  /** Posts to a slash command's response_url (valid for 30 minutes, works where the bot is not a member). */
  async postToResponseUrl(responseUrl: string, text: string, blocks?: unknown[]): Promise<void> {
    const response = await fetch(responseUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ response_type: 'in_channel', text, ...(blocks ? { blocks } : {}) }),
      signal: AbortSignal.timeout(TIMEOUT_MS),
      redirect: 'error',
    });
    await response.body?.cancel();
    if (!response.ok) throw new Error(`response_url answered HTTP ${response.status}`);
  }
}
