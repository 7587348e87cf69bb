// Every text a Slack user sees, as pure functions so tests can pin them down. Slack's mrkdwn treats `&`, `<`
// and `>` as control characters: anything that comes from a user or an error is escaped; mentions this module
// builds itself (`<@U123>`) are not.
import type { SyncTrigger } from '../generated/prisma/enums.js';
import type { LatestValues } from '../reports/daily.js';
import { dayLabel, recovery, round, sleep, strain } from '../reports/format.js';
import { RESOURCES, type Resource } from '../sync/collections.js';
import { plural } from '../util/plural.js';

/** Longest failure text, in characters; keeps a huge error (e.g. an HTML error page) out of the channel. */
export const MAX_FAILURE_LENGTH = 1000;

export interface SuccessSummary {
  /** Slack user id of whoever ran `/sync` (only meaningful for trigger 'slack'). */
  requestedBy?: string | undefined;
  days: number;
  windowStart: Date;
  windowEnd: Date;
  counts: Record<Resource, { upserted: number; deleted: number }>;
  /** Number of WHOOP accounts synced. */
  accounts: number;
  durationMs: number;
  trigger: SyncTrigger;
}

/** Escapes the three characters Slack reserves for markup. */
export function escapeSlackText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

// Slack user ids are upper-case letters and digits (U…, or W… on Enterprise Grid). Anything else is not
// wrapped in <@…>, so a forged value cannot inject markup.
const USER_ID = /^[UW][A-Z0-9]{1,30}$/;

function isoDate(date: Date): string {
  return Number.isNaN(date.getTime()) ? 'unknown' : date.toISOString().slice(0, 10);
}

function count(n: number): string {
  return Number.isFinite(n) ? String(Math.max(0, Math.trunc(n))) : '0';
}

function seconds(ms: number): string {
  const value = Number.isFinite(ms) && ms > 0 ? ms / 1000 : 0;
  return `${value.toFixed(1)} s`;
}

function who(summary: SuccessSummary): string {
  switch (summary.trigger) {
    case 'schedule':
      return 'Scheduled sync';
    case 'cli':
      return 'Command-line sync';
    case 'webhook':
      return 'Webhook sync';
    case 'slack': {
      const user = summary.requestedBy;
      if (user === undefined || user === '') return 'Sync';
      return USER_ID.test(user) ? `Sync for <@${user}>` : `Sync for ${escapeSlackText(user)}`;
    }
  }
}

/** The immediate acknowledgement of `/sync`. */
export function ackText(days: number): string {
  return `⏳ Syncing last ${plural(days, 'day')}...`;
}

/**
 * The visible result of a successful sync, e.g.
 * "✅ Sync for <@U123> done in 4.2 s: last 7 days (2026-11-18 → 2026-11-25 UTC), 1 account
 *  cycles 7 · recoveries 7 · sleeps 8 (1 deleted) · workouts 5"
 */
export function successText(summary: SuccessSummary): string {
  const window = `${isoDate(summary.windowStart)} → ${isoDate(summary.windowEnd)} UTC`;
  const accounts = plural(summary.accounts, 'account');
  const counts = RESOURCES.map((resource) => {
    const { upserted, deleted } = summary.counts[resource];
    const removed = count(deleted);
    return removed === '0' ? `${resource} ${count(upserted)}` : `${resource} ${count(upserted)} (${removed} deleted)`;
  }).join(' · ');
  return (
    `✅ ${who(summary)} done in ${seconds(summary.durationMs)}: ` +
    `last ${plural(summary.days, 'day')} (${window}), ${accounts}\n${counts}`
  );
}

/** A message with Block Kit blocks and the plain-text fallback Slack shows in notifications (same content). */
export interface RichMessage {
  text: string;
  blocks: unknown[];
}

/**
 * One account's latest values, e.g. "*Jo Tester* · Tue 1 Dec: recovery 72 % 🟢 green · HRV 65 ms · RHR 52 bpm ·
 * slept 7 h 05 min, performance 88 % · strain 12.4 (Mon 30 Nov)".
 */
export function latestValuesLine({ member, latest, lastCompleted }: LatestValues): string {
  const name = `*${escapeSlackText(member.name)}*`;
  if (latest === undefined) return `${name}: no data yet`;
  const parts = [recovery(latest)];
  if (latest.hrvMs !== null) parts.push(`HRV ${round(latest.hrvMs)} ms`);
  if (latest.restingHeartRate !== null) parts.push(`RHR ${round(latest.restingHeartRate)} bpm`);
  parts.push(sleep(latest));
  parts.push(lastCompleted ? `${strain(lastCompleted)} (${dayLabel(lastCompleted.day)})` : strain(undefined));
  return `${name} · ${dayLabel(latest.day)}: ${parts.join(' · ')}`;
}

/**
 * The /sync result: successText's lines, then one line per account with its latest values, and how many
 * members keep theirs private (`privateCount`, see docs/privacy.md).
 */
export function successMessage(summary: SuccessSummary, accounts: LatestValues[], privateCount = 0): RichMessage {
  const lines = [...accounts.map(latestValuesLine), ...(privateCount > 0 ? [privateMembersLine(privateCount)] : [])];
  return {
    text: [successText(summary), ...lines].join('\n'),
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: successText(summary) } },
      ...lines.map((line) => ({ type: 'section', text: { type: 'mrkdwn', text: line } })),
    ],
  };
}

/** Stands in for the values of members who do not share them. */
export function privateMembersLine(count: number): string {
  return `_${count === 1 ? '1 member keeps their values' : `${count} members keep their values`} private._`;
}

/** The ephemeral copy of their own values for whoever typed /sync. */
export function ownValuesText(values: LatestValues): string {
  return `🔒 Only you can see this: ${latestValuesLine(values)}`;
}

/** The visible result of a failed sync: one line, escaped, capped. */
export function failureText(errorMessage: string): string {
  const oneLine = String(errorMessage ?? '').replace(/\s+/g, ' ').trim();
  if (oneLine === '') return '❌ Sync failed for an unknown reason (no error message).';
  let text = escapeSlackText(oneLine);
  if (text.length > MAX_FAILURE_LENGTH) {
    text = text.slice(0, MAX_FAILURE_LENGTH - 1);
    // Never leave half an entity (`&am`) or half a surrogate pair at the cut.
    text = text.replace(/&[a-z]*$/, '').replace(/[\uD800-\uDBFF]$/, '');
    text = `${text.trimEnd()}…`;
  }
  return `❌ ${text}`;
}

/** Usage, shown (ephemerally) for `help` or a command this service does not handle. */
export function helpText(command = '/sync'): string {
  const name = escapeSlackText(command.trim() || '/sync');
  return [
    `*${name} [days]* syncs WHOOP data for the last _days_ days and posts the result in this channel.`,
    `_days_ defaults to 3 and is kept between 1 and 365. Examples: \`${name}\` · \`${name} 7\` · \`${name} 30\``,
  ].join('\n');
}

/** Reply to a slash command other than the one this service handles. */
export function unknownCommandText(command: string): string {
  return `🤔 I don't handle \`${escapeSlackText(command.trim() || '(empty)')}\`.\n${helpText('/sync')}`;
}

/** Ephemeral refusal for a user or channel outside the configured allowlists. */
export function notAllowedText(scope?: 'user' | 'channel'): string {
  const refusal =
    scope === 'channel'
      ? "`/sync` isn't enabled in this channel"
      : scope === 'user'
        ? "You aren't allowed to run `/sync`"
        : "`/sync` isn't available to you here";
  return `🚫 ${refusal}. Ask whoever runs WHOOP Sync to add ${scope === 'channel' ? 'this channel' : 'you'} to its allowlist.`;
}


/** A signed command from a workspace or app other than the one this service answers. */
export function foreignWorkspaceText(which: 'team' | 'app'): string {
  return `🚫 This WHOOP Sync only answers commands from its own Slack ${which === 'team' ? 'workspace' : 'app'}; nothing was started.`;
}

/**
 * The one message saying a member's whole WHOOP history is stored: how far back it goes, no values. The name
 * only of a member who shares (docs/privacy.md); otherwise "a member".
 */
export function historyCompleteText(name: string | undefined, oldest: Date | null, records: number): string {
  const who = name ? escapeSlackText(name) : 'a member';
  const back = oldest ? `back to ${oldest.toISOString().slice(0, 10)}` : 'WHOOP had no records';
  return `:card_file_box: The whole WHOOP history of ${who} is stored: ${back} (${records.toLocaleString('en-US')} records).`;
}
