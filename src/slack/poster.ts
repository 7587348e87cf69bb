// Slack's Web API as the bot (chat.postMessage, files, DMs) and a command's response_url. Both are bounded
// in time and retries so a Slack outage cannot pile up work; errors carry Slack's code (`not_in_channel`).
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

  /** Posts a visible message. */
  async postMessage(channel: string, text: string, blocks?: unknown[]): Promise<void> {
    const message = { channel, text, unfurl_links: false, unfurl_media: false, ...(blocks && { blocks }) } as never;
    await this.call('chat.postMessage', (client) => client.chat.postMessage(message));
  }

  /** Shares files in a channel with a message (Slack's external upload flow; scope `files:write`). */
  async uploadFiles(channel: string, message: string, files: Array<{ data: Buffer; filename: string; title: string }>) {
    const file_uploads = files.map((file) => ({ file: file.data, filename: file.filename, title: file.title }));
    await this.call('file upload', (client) => client.filesUploadV2({ channel_id: channel, initial_comment: message, file_uploads }));
  }

  /** A message only `user` sees, in `channel` (chat.postEphemeral). */
  async postEphemeral(channel: string, user: string, text: string): Promise<void> {
    await this.call('chat.postEphemeral', (client) => client.chat.postEphemeral({ channel, user, text }));
  }

  /** The id of the bot's direct-message conversation with `user` (conversations.open, scope im:write). */
  async directMessageChannel(user: string): Promise<string> {
    return this.call('conversations.open', async (client) => {
      const opened = await client.conversations.open({ users: user });
      if (!opened.channel?.id) throw new Error('no channel in the answer');
      return opened.channel.id;
    });
  }

  /** Posts to a slash command's response_url (valid for 30 minutes, works where the bot is not a member). */
  async postToResponseUrl(responseUrl: string, text: string, blocks?: unknown[], responseType: 'in_channel' | 'ephemeral' = 'in_channel'): Promise<void> {
    const response = await fetch(responseUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ response_type: responseType, text, ...(blocks ? { blocks } : {}) }),
      signal: AbortSignal.timeout(TIMEOUT_MS),
      redirect: 'error',
    });
    await response.body?.cancel();
    if (!response.ok) throw new Error(`response_url answered HTTP ${response.status}`);
  }

  private async call<T>(what: string, fn: (client: WebClient) => Promise<T>): Promise<T> {
    if (!this.client) throw new Error('SLACK_BOT_TOKEN is not set');
    try {
      return await fn(this.client);
    } catch (error) {
      const data = (error as { data?: { error?: string } }).data;
      throw new Error(`${what} failed: ${data?.error ?? (error as Error).message}`, { cause: error });
    }
  }
}
