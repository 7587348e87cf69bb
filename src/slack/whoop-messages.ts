// The texts `/whoop` answers with (always ephemeral: only the person who typed it sees them).
import type { MemberSettings } from '../team/members.js';
import { escapeSlackText } from './messages.js';

/** The action id of the button that confirms `/whoop forget`. */
export const FORGET_ACTION = 'whoop_forget_confirm';

const onOff = (value: boolean) => (value ? 'on' : 'off');

export function whoopHelpText(member: MemberSettings | undefined): string {
  const state = member
    ? `You are linked to *${escapeSlackText(member.name)}*. Sharing in channels: *${onOff(member.shares)}* · digests by direct message: *${onOff(member.digest)}*.`
    : 'No WHOOP account is linked to you yet: `/whoop connect` links yours.';
  return [
    state,
    '`/whoop connect` · a personal link that connects your WHOOP account (works once, for 15 minutes)',
    '`/whoop share on|off` · show your values in channel messages, or only counts',
    '`/whoop digest on|off` · your morning digest and weekly report by direct message',
    '`/whoop dashboard` · a sign-in link to your own dashboard (works once, for 5 minutes)',
    '`/whoop forget` · disconnect your account and delete your data (asks first)',
  ].join('\n');
}

export const connectLinkText = (url: string) =>
  `🔗 <${url}|Connect your WHOOP account>: this link is yours, works once and expires in 15 minutes. Don't share it.`;

export const dashboardLinkText = (url: string) =>
  `🔐 <${url}|Open your dashboard>: this sign-in link is yours, works once and expires in 5 minutes.`;

export const notLinkedText = () => '🤔 No WHOOP account is linked to you yet. Type `/whoop connect` first.';

export const dashboardDisabledText = () => '🚫 The dashboard is not enabled on this install (the operator sets DASHBOARD_PASSWORD).';

export const sharingText = (on: boolean) =>
  on
    ? '✅ Your values now appear in channel messages (sync results, reports, the digest channel). `/whoop share off` stops it.'
    : '✅ Channel messages now show only counts for you; you still get your own values privately. `/whoop share on` shares them again.';

export const digestText = (on: boolean) =>
  on ? '✅ You will get your morning digest and weekly report by direct message.' : '✅ No more digests by direct message. `/whoop digest on` turns them back on.';

export const usageText = (text: string) => `🤔 I don't know \`/whoop ${escapeSlackText(text)}\`. Type \`/whoop\` to see what I can do.`;

/** The confirmation `/whoop forget` asks for: the button carries a single-use ticket. */
export function forgetConfirmation(ticket: string): { text: string; blocks: unknown[] } {
  const text = '⚠️ Forget your WHOOP account? This disconnects it (WHOOP access is revoked) and deletes all your data here. It cannot be undone.';
  return {
    text,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text } },
      {
        type: 'actions',
        elements: [{ type: 'button', style: 'danger', action_id: FORGET_ACTION, value: ticket, text: { type: 'plain_text', text: 'Forget me' } }],
      },
    ],
  };
}

export const forgottenText = () => '✅ Your WHOOP account is disconnected and your data is deleted.';
export const forgetExpiredText = () => '🤔 That confirmation has expired or was already used. Type `/whoop forget` again.';
export const checkFailedText = () => '❌ Could not check that button press: the database did not answer. Please press it again in a moment.';
