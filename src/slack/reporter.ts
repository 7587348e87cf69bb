// Turns a finished run into its visible result message and sends it (the sync pipeline decides when,
// records the delivery and retries a failure; see docs/architecture.md):
// - a Slack /sync: chat.postMessage in the channel it came from, falling back to its response_url
//   (in_channel) when the bot cannot post there;
// - a scheduled sync: SLACK_REPORT_CHANNEL when set (failures always, successes as one short line);
// - anything else: no message.
import type { Database } from '../db/database.js';
import type { SyncOutcome } from '../sync/engine.js';
import type { ResultSink } from '../sync/dispatcher.js';
import type { SyncRun } from '../sync/runs.js';
import { latestValues } from '../reports/daily.js';
import { failureText, successMessage, successText, type RichMessage } from './messages.js';
import type { SlackPoster } from './poster.js';

export interface ReporterOptions {
  /** Read only: the latest values a success message carries (sync_runs is the pipeline's). */
  db: Database;
  poster: SlackPoster;
  reportChannel: string | undefined;
  log: { warn(details: object, message: string): void };
}

export class Reporter implements ResultSink {
  constructor(private readonly options: ReporterOptions) {}

  /** Sends the result message of a finished run: false when it has none; throws why no path worked. */
  async deliver(outcome: SyncOutcome): Promise<boolean> {
    const message = await this.messageFor(outcome);
    if (message === undefined) return false;
    await this.send(outcome.run, message);
    return true;
  }

  private async messageFor(outcome: SyncOutcome): Promise<Partial<RichMessage> & { text: string } | undefined> {
    const { run } = outcome;
    if (run.trigger === 'slack') {
      return outcome.status === 'succeeded' ? this.withLatestValues(outcome) : { text: failureText(outcome.error ?? 'unknown error') };
    }
    if (run.trigger === 'schedule' && this.options.reportChannel) {
      return {
        text: outcome.status === 'succeeded'
          ? successText(summary(outcome)).split('\n').join(' — ')
          : failureText(`Scheduled sync failed: ${outcome.error ?? 'unknown error'}`),
      };
    }
    return undefined;
  }

  /** The result with each account's latest values; the counts alone when the values cannot be read. */
  private async withLatestValues(outcome: SyncOutcome): Promise<RichMessage | { text: string }> {
    try {
      return successMessage(summary(outcome), await latestValues(this.options.db));
    } catch (error) {
      this.options.log.warn({ err: error, runId: outcome.run.id }, 'could not read the latest values for the sync result');
      return { text: successText(summary(outcome)) };
    }
  }

  private async send(run: SyncRun, { text, blocks }: { text: string; blocks?: unknown[] | undefined }): Promise<void> {
    const { poster, log } = this.options;
    const channel = run.trigger === 'slack' ? run.channelId : this.options.reportChannel;
    let postError: Error | undefined;
    if (channel && poster.canPost) {
      try {
        await poster.postMessage(channel, text, blocks);
        return;
      } catch (error) {
        postError = error as Error;
        log.warn({ runId: run.id, reason: postError.message }, 'posting the sync result failed; trying the response_url');
      }
    }
    if (run.trigger === 'slack' && run.responseUrl) {
      try {
        await poster.postToResponseUrl(run.responseUrl, text, blocks);
        return;
      } catch (error) {
        throw new Error(`${postError ? `${postError.message}; ` : ''}${(error as Error).message}`, { cause: error });
      }
    }
    throw postError ?? new Error(poster.canPost ? 'no channel to post to' : 'SLACK_BOT_TOKEN is not set and there is no response_url');
  }
}

function summary(outcome: SyncOutcome) {
  const { run } = outcome;
  return {
    requestedBy: run.requestedBy ?? undefined,
    days: run.days,
    windowStart: run.windowStart ?? run.requestedAt,
    windowEnd: run.windowEnd ?? run.requestedAt,
    counts: outcome.counts,
    accounts: outcome.accounts,
    durationMs: outcome.durationMs,
    trigger: run.trigger,
  };
}
