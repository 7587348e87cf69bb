// Turns a finished run into its visible result message and sends it (the worker decides when, records the
// delivery and retries a failure; see docs/architecture.md):
// - a Slack /sync: chat.postMessage in the channel it came from, falling back to its response_url
//   (in_channel) when the bot cannot post there;
// - a scheduled sync: SLACK_REPORT_CHANNEL when set (failures always, successes as one short line);
// - anything else: no message.
import type { Database } from '../db/database.js';
import { latestValues, type LatestValues } from '../reports/daily.js';
import type { ResultSink } from '../sync/delivery.js';
import type { SyncOutcome } from '../sync/engine.js';
import type { Members } from '../team/members.js';
import { failureText, ownValuesText, successMessage, successText } from './messages.js';
import type { SlackPoster } from './poster.js';

export interface ReporterOptions {
  /** Read only: the latest values a success message carries (sync_runs is the pipeline's). */
  db: Database;
  poster: SlackPoster;
  /** Who shares their values in channels, and which member typed a /sync (src/team/). */
  members: Members;
  reportChannel: string | undefined;
  log: { warn(details: object, message: string): void };
}

type Message = { text: string; blocks?: unknown[] };

export class Reporter implements ResultSink {
  constructor(private readonly options: ReporterOptions) {}

  /** Sends the result message of a finished run: false when it has none; throws why no path worked. */
  async deliver(outcome: SyncOutcome): Promise<boolean> {
    const { run } = outcome;
    const { poster, reportChannel, log } = this.options;
    const error = outcome.error ?? 'unknown error';
    const succeeded = outcome.status === 'succeeded';
    let message: Message;
    // Read once, for the channel's message (values of those who share them; the counts alone when they cannot
    // be read) and the private one to whoever typed /sync.
    const values = run.trigger === 'slack' && succeeded ? await this.latest(outcome) : undefined;
    if (values) {
      const shown = values.accounts.filter((account) => values.sharing.has(account.member.userId));
      message = successMessage(summary(outcome), shown, values.accounts.length - shown.length);
    } else if (run.trigger === 'slack') message = { text: succeeded ? successText(summary(outcome)) : failureText(error) };
    else if (run.trigger === 'schedule' && reportChannel) {
      message = { text: succeeded ? successText(summary(outcome)).split('\n').join(' — ') : failureText(`Scheduled sync failed: ${error}`) };
    } else return false;

    const channel = run.trigger === 'slack' ? run.channelId : reportChannel;
    const posting = Boolean(channel && poster.canPost);
    try {
      if (!posting) throw new Error(poster.canPost ? 'no channel to post to' : 'SLACK_BOT_TOKEN is not set and there is no response_url');
      await poster.postMessage(channel!, message.text, message.blocks);
    } catch (error) {
      const postError = error as Error;
      if (run.trigger !== 'slack' || !run.responseUrl) throw postError;
      if (posting) log.warn({ runId: run.id, reason: postError.message }, 'posting the sync result failed; trying the response_url');
      await poster.postToResponseUrl(run.responseUrl, message.text, message.blocks).catch((failure: Error) => {
        throw new Error(`${posting ? `${postError.message}; ` : ''}${failure.message}`, { cause: failure });
      });
    }
    if (values) await this.sendOwnValues(outcome, values.accounts);
    return true;
  }

  /** Each account's latest values and who shares them; undefined (logged) when they cannot be read. */
  private async latest(outcome: SyncOutcome) {
    try {
      const [accounts, sharing] = await Promise.all([latestValues(this.options.db), this.options.members.sharing()]);
      return { accounts, sharing };
    } catch (error) {
      this.options.log.warn({ err: error, runId: outcome.run.id }, 'could not read the latest values for the sync result');
      return undefined;
    }
  }

  /** Whoever typed /sync also gets their own values, whether or not they share them. Best effort. */
  private async sendOwnValues({ run }: SyncOutcome, accounts: LatestValues[]): Promise<void> {
    const { poster, members, log } = this.options;
    if (!run.requestedBy) return;
    try {
      const member = await members.bySlackUser(run.requestedBy);
      const values = member && accounts.find((account) => account.member.userId === member.userId);
      if (!values) return;
      const text = ownValuesText(values);
      if (run.channelId && poster.canPost) await poster.postEphemeral(run.channelId, run.requestedBy, text);
      else if (run.responseUrl) await poster.postToResponseUrl(run.responseUrl, text, undefined, 'ephemeral');
    } catch (error) {
      log.warn({ runId: run.id, reason: (error as Error).message }, 'could not send the person who ran /sync their own values');
    }
  }
}

function summary({ run, counts, accounts, durationMs }: SyncOutcome) {
  const { requestedBy, days, windowStart, windowEnd, requestedAt, trigger } = run;
  const window = { windowStart: windowStart ?? requestedAt, windowEnd: windowEnd ?? requestedAt };
  return { requestedBy: requestedBy ?? undefined, days, ...window, counts, accounts, durationMs, trigger };
}
