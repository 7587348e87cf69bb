// Turns a finished run into its visible result message and delivers it exactly once:
// - a Slack /sync: chat.postMessage in the channel it came from, falling back to its response_url
//   (in_channel) when the bot cannot post there; if both fail, the reason is logged and kept on the run;
// - a scheduled sync: SLACK_REPORT_CHANNEL when set (failures always, successes as one short line);
// - anything else: no message.
import type { FastifyBaseLogger } from 'fastify';
import type { Database } from '../db/database.js';
import type { SyncOutcome } from '../sync/engine.js';
import type { SyncRun } from '../sync/runs.js';
import { latestValues } from '../reports/daily.js';
import { failureText, successMessage, successText, type RichMessage } from './messages.js';
import type { SlackPoster } from './poster.js';

export interface ReporterOptions {
  db: Database;
  poster: SlackPoster;
  reportChannel: string | undefined;
  log: FastifyBaseLogger;
}

export class Reporter {
  constructor(private readonly options: ReporterOptions) {}

  /** Delivers the result of a finished run (RunDispatcher decides when, and stops at shutdown). */
  async report(outcome: SyncOutcome): Promise<void> {
    const { run } = outcome;
    const message = await this.messageFor(outcome);
    if (message === undefined) return;
    // Claim the report first: with several replicas (or a restart racing a slow post) exactly one posts.
    const { count } = await this.options.db.prisma.syncRun.updateMany({
      where: { id: run.id, reportedAt: null, reportError: null },
      data: { reportedAt: new Date() },
    });
    if (count === 0) return;
    try {
      await this.deliver(run, message);
    } catch (error) {
      const reason = (error as Error).message;
      this.options.log.error({ err: error, runId: run.id }, `could not deliver the result of sync run ${run.id}: ${reason}`);
      await this.options.db.prisma.syncRun.update({ where: { id: run.id }, data: { reportedAt: null, reportError: reason } });
    }
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
      this.options.log.error({ err: error, runId: outcome.run.id }, 'could not read the latest values for the sync result');
      return { text: successText(summary(outcome)) };
    }
  }

  private async deliver(run: SyncRun, { text, blocks }: { text: string; blocks?: unknown[] | undefined }): Promise<void> {
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
