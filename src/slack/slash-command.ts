// What a slash command does once it is known to come from Slack, whichever way it arrived (a signed POST to
// /slack/commands or a Socket Mode envelope): read the fields, apply the allowlists, record a /sync run, and
// answer with the acknowledgement Slack shows the person. The sync itself starts only after that answer is
// on its way (the caller wakes the worker then), so nothing slow stands before the ack.
import type { FastifyBaseLogger } from 'fastify';
import type { Metrics } from '../metrics/metrics.js';
import { DEFAULT_DAYS, parseDays } from '../config/days.js';
import type { SyncRequest, SyncRuns } from '../sync/runs.js';
import { ackText, failureText, foreignWorkspaceText, notAllowedText, unknownCommandText } from './messages.js';
import type { SlackWorkspace } from './workspace.js';

/** The command's fields, as Slack sends them (URLSearchParams of the HTTP form fits). */
export interface CommandFields {
  get(name: string): string | null;
}

/** The JSON Slack shows the person who typed the command: the HTTP response body, or a Socket Mode ack's payload. */
interface CommandReply {
  response_type: 'ephemeral';
  text: string;
  blocks?: unknown[];
}

export interface AcceptedCommand {
  reply: CommandReply;
  /** A run recorded for this command: wake the worker once the reply has gone out. */
  runId?: number;
}

export interface SlashCommandOptions {
  allowedUserIds: string[];
  allowedChannelIds: string[];
  runs: Pick<SyncRuns, 'create'>;
  commands: Metrics['slackCommands'];
  workspace: Pick<SlackWorkspace, 'foreign'>;
  /** `/whoop` (whoop-command.ts): one person's membership, links and settings. */
  whoop: (slackUserId: string, text: string) => Promise<{ text: string; blocks?: unknown[] }>;
}

/** Slack ids are upper-case letters and digits; anything else (NUL bytes included) is not stored. */
const slackId = (value: string | null) => (value && /^[A-Z0-9]{1,32}$/.test(value) ? value : null);

const ephemeral = (text: string): CommandReply => ({ response_type: 'ephemeral', text });

/**
 * Handles one slash command. `envelopeId` is the Socket Mode envelope it came in: a second delivery of the
 * same envelope gets the same acknowledgement and records nothing. Never throws: a database failure
 * becomes an explanation for the person, since Slack shows anything else as a cryptic error.
 */
export async function acceptSlashCommand(
  options: SlashCommandOptions,
  fields: CommandFields,
  log: FastifyBaseLogger,
  envelopeId?: string,
): Promise<AcceptedCommand> {
  const { allowedUserIds, allowedChannelIds, runs, commands, workspace } = options;
  // Before anything else: a command from another workspace or app gets no help text either.
  const foreign = workspace.foreign(fields);
  if (foreign) {
    commands.inc({ outcome: 'refused' });
    log.warn({ teamId: slackId(fields.get('team_id')), appId: slackId(fields.get('api_app_id')) }, `Slack command refused: from another ${foreign === 'team' ? 'workspace (SLACK_TEAM_ID)' : 'app (SLACK_APP_ID)'}`);
    return { reply: ephemeral(foreignWorkspaceText(foreign)) };
  }
  const command = fields.get('command') ?? '';
  const userId = slackId(fields.get('user_id')) ?? '';
  const channelId = slackId(fields.get('channel_id')) ?? '';
  if (command === '/whoop') return acceptWhoop(options, userId, fields.get('text') ?? '', log);
  if (command !== '/sync') {
    commands.inc({ outcome: 'help' });
    return { reply: ephemeral(unknownCommandText(command)) };
  }
  if (allowedUserIds.length > 0 && !allowedUserIds.includes(userId)) {
    commands.inc({ outcome: 'refused' });
    log.info({ userId }, '/sync refused: user not in SLACK_ALLOWED_USER_IDS');
    return { reply: ephemeral(notAllowedText('user')) };
  }
  if (allowedChannelIds.length > 0 && !allowedChannelIds.includes(channelId)) {
    commands.inc({ outcome: 'refused' });
    log.info({ channelId }, '/sync refused: channel not in SLACK_ALLOWED_CHANNEL_IDS');
    return { reply: ephemeral(notAllowedText('channel')) };
  }

  // The seed's contract: text that is not a whole number means the default window, never an error.
  const days = parseDays(fields.get('text') ?? '') ?? DEFAULT_DAYS;
  const responseUrl = fields.get('response_url');
  const request: SyncRequest = {
    days,
    trigger: 'slack',
    requestedBy: userId || null,
    channelId: channelId || null,
    responseUrl: responseUrl && /^https?:\/\/[^\s\0]+$/.test(responseUrl) ? responseUrl : null,
  };
  let runId: number;
  try {
    const run = await runs.create(request, envelopeId);
    if (!run) {
      commands.inc({ outcome: 'duplicate' });
      log.info({ envelopeId }, '/sync envelope delivered again (its ack was lost): acknowledged again, no second run');
      return { reply: ephemeral(ackText(days)) };
    }
    runId = run.id;
  } catch (error) {
    commands.inc({ outcome: 'error' });
    log.error({ err: error }, '/sync could not be recorded');
    return { reply: ephemeral(failureText('Could not record this /sync: the database did not answer. Please try again in a moment.')) };
  }
  commands.inc({ outcome: 'accepted' });
  log.info({ runId, days, userId, channelId, ...(envelopeId !== undefined ? { envelopeId } : {}) }, '/sync accepted');
  return { reply: ephemeral(ackText(days)), runId };
}

async function acceptWhoop(
  options: SlashCommandOptions,
  userId: string,
  text: string,
  log: FastifyBaseLogger,
): Promise<AcceptedCommand> {
  const { allowedUserIds, commands } = options;
  if (!userId || (allowedUserIds.length > 0 && !allowedUserIds.includes(userId))) {
    commands.inc({ outcome: 'refused' });
    log.info({ userId }, '/whoop refused: user not in SLACK_ALLOWED_USER_IDS');
    return { reply: ephemeral(notAllowedText('user')) };
  }
  try {
    const answer = await options.whoop(userId, text);
    commands.inc({ outcome: 'whoop' });
    return { reply: { response_type: 'ephemeral', ...answer } };
  } catch (error) {
    commands.inc({ outcome: 'error' });
    log.error({ err: error }, '/whoop could not be handled');
    return { reply: ephemeral(failureText('Could not handle this /whoop: the database did not answer. Please try again in a moment.')) };
  }
}
