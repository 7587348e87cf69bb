// `/whoop`: what one person does about their own membership. Every answer is ephemeral; links are personal,
// single-use and short-lived (src/team/tickets.ts).
import type { FastifyInstance } from 'fastify';
import type { Members } from '../team/members.js';
import type { MemberTickets } from '../team/tickets.js';
import {
  connectLinkText,
  dashboardDisabledText,
  dashboardLinkText,
  digestText,
  forgetConfirmation,
  notLinkedText,
  sharingText,
  usageText,
  whoopHelpText,
} from './whoop-messages.js';

interface WhoopCommandOptions {
  members: Members;
  tickets: MemberTickets;
  publicUrl: string;
  dashboardEnabled: boolean;
}

export interface WhoopReply {
  text: string;
  blocks?: unknown[];
}

const SWITCH = /^(share|digest)\s+(on|off)$/;

async function whoopCommand(
  options: WhoopCommandOptions,
  slackUserId: string,
  text: string,
): Promise<WhoopReply> {
  const { members, tickets, publicUrl } = options;
  const words = text.trim().toLowerCase().replace(/\s+/g, ' ');
  if (words === '' || words === 'help') return { text: whoopHelpText(await members.bySlackUser(slackUserId)) };
  if (words === 'connect') {
    const ticket = await tickets.issue('connect', slackUserId, null);
    return { text: connectLinkText(`${publicUrl}/oauth/whoop?ticket=${ticket}`) };
  }
  const toggle = SWITCH.exec(words);
  if (toggle) {
    const on = toggle[2] === 'on';
    const changed = toggle[1] === 'share' ? await members.setSharing(slackUserId, on) : await members.setDigest(slackUserId, on);
    if (!changed) return { text: notLinkedText() };
    return { text: toggle[1] === 'share' ? sharingText(on) : digestText(on) };
  }
  if (words === 'dashboard' || words === 'forget') {
    const member = await members.bySlackUser(slackUserId);
    if (!member) return { text: notLinkedText() };
    if (words === 'forget') return forgetConfirmation(await tickets.issue('forget', slackUserId, BigInt(member.userId)));
    if (!options.dashboardEnabled) return { text: dashboardDisabledText() };
    const ticket = await tickets.issue('sign_in', slackUserId, BigInt(member.userId));
    return { text: dashboardLinkText(`${publicUrl}/dashboard/sign-in?ticket=${ticket}`) };
  }
  return { text: usageText(text.trim().slice(0, 100)) };
}

/** `/whoop` as the slash-command handling takes it, wired to the app's members. */
export function whoopHandler(app: FastifyInstance) {
  const options: WhoopCommandOptions = {
    members: app.members.settings,
    tickets: app.members.tickets,
    publicUrl: app.config.publicUrl,
    dashboardEnabled: Boolean(app.config.dashboard.password),
  };
  return (slackUserId: string, text: string) => whoopCommand(options, slackUserId, text);
}
