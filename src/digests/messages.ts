// The texts of the morning digest and the weekly report, as pure functions of the rows they describe.
import { escapeSlackText, privateMembersLine, type RichMessage } from '../slack/messages.js';
import type { DailyRow, Member, SportTotal } from '../reports/daily.js';
import { addDays } from '../reports/days.js';
import { change, dayLabel, duration, meanName, recovery, round, sleep, strain, versusMean, weekComparison } from '../reports/format.js';
import { baseline, byDay, flags, weekMeans, FLAG_RUN, HRV_DROP, POOR_SLEEP_PERFORMANCE, type FlagKind, type WeekMeans } from '../reports/insights.js';

/** Whether the digest's data could be refreshed first. */
export type Freshness = { ok: true } | { ok: false; reason: string; lastSuccess: Date | null };

/** `hrvMean` names the means the HRV flag compared with (each of the three days has its own). */
const FLAG_TEXT: Record<FlagKind, (hrvMean: string) => string> = {
  hrv_low: (hrvMean) => `HRV ${Math.round(HRV_DROP * 100)} % or more below its ${hrvMean} three days running`,
  recovery_red: () => 'recovery red three days running',
  sleep_poor: () => `sleep performance below ${POOR_SLEEP_PERFORMANCE} % three nights running`,
};

function message(title: string, notes: string[], sections: string[]): RichMessage {
  const head = [`*${title}*`, ...notes].join('\n');
  return {
    text: [head, ...sections].join('\n\n'),
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: head } },
      ...sections.map((text) => ({ type: 'section', text: { type: 'mrkdwn', text } })),
    ],
  };
}

/** The notes under a title: data that could not be refreshed, members whose values are not shown. */
function notes(freshness: Freshness, privateCount = 0): string[] {
  return [...freshnessNote(freshness), ...(privateCount > 0 ? [privateMembersLine(privateCount)] : [])];
}

function freshnessNote(freshness: Freshness): string[] {
  if (freshness.ok) return [];
  const since = freshness.lastSuccess ? `the last successful sync, ${freshness.lastSuccess.toISOString().slice(0, 16).replace('T', ' ')} UTC` : 'no successful sync yet';
  return [`⚠️ Could not refresh the data first (${escapeSlackText(freshness.reason)}); values are from ${since}.`];
}

/** One member's morning lines. */
function memberDigest(member: Member, rows: readonly DailyRow[], today: string): string {
  const name = `*${escapeSlackText(member.name)}*`;
  const days = byDay(rows.filter((row) => row.day <= today));
  const latest = [...days.values()].sort((a, b) => a.day.localeCompare(b.day)).at(-1);
  if (!latest) return `${name}: no data yet.`;
  const lines = [`${name}${latest.day === today ? '' : ` (latest data: ${dayLabel(latest.day)})`}: ${recovery(latest)}`];
  const vitals = [
    latest.hrvMs !== null ? `HRV ${round(latest.hrvMs)} ms ${versusMean(latest.hrvMs, baseline(days, latest.day, (row) => row.hrvMs))}` : '',
    latest.restingHeartRate !== null
      ? `resting HR ${round(latest.restingHeartRate)} bpm ${versusMean(latest.restingHeartRate, baseline(days, latest.day, (row) => row.restingHeartRate))}`
      : '',
  ].filter(Boolean);
  if (vitals.length > 0) lines.push(vitals.join(' · '));
  const night = [sleep(latest)];
  if (latest.sleepEfficiency !== null) night.push(`efficiency ${round(latest.sleepEfficiency)} %`);
  if (latest.sleepNeededMs !== null) night.push(`needed ${duration(latest.sleepNeededMs)}`);
  if (latest.sleepDebtMs !== null) night.push(`sleep debt ${duration(latest.sleepDebtMs)}`);
  lines.push(`Last night: ${night.join(', ')}`);
  const yesterday = days.get(addDays(latest.day, -1));
  lines.push(`Yesterday: ${yesterday ? strain(yesterday) : 'no data'}`);
  const flagDays = Array.from({ length: FLAG_RUN }, (_, back) => addDays(latest.day, -back));
  const hrvMean = meanName(flagDays.map((day) => baseline(days, day, (row) => row.hrvMs).days));
  for (const flag of flags(days, latest.day)) lines.push(`🚩 ${FLAG_TEXT[flag](hrvMean)}`);
  return lines.join('\n');
}

/** The morning digest: one section per member. */
export function dailyDigestMessage(input: {
  today: string;
  members: Member[];
  rows: DailyRow[];
  freshness: Freshness;
  /** Members not shown because they do not share. */
  privateCount?: number;
}): RichMessage {
  const { today, members, rows, freshness } = input;
  const sections = members.map((member) =>
    memberDigest(member, rows.filter((row) => row.userId === member.userId), today),
  );
  return message(`🌅 Morning digest · ${dayLabel(today)}`, notes(freshness, input.privateCount), sections.length > 0 ? sections : [emptyText(input.privateCount)]);
}

function compare(
  label: string,
  week: number | undefined,
  before: number | undefined,
  show: (value: number) => string,
): string {
  if (week === undefined) return `${label} –`;
  return before === undefined ? `${label} ${show(week)}` : `${label} ${show(week)} (${change(week, before)} vs ${show(before)})`;
}

function weekLine(week: WeekMeans, before: WeekMeans | undefined): string {
  return [
    compare('recovery', week.recovery, before?.recovery, (value) => `${round(value)} %`),
    compare('HRV', week.hrv, before?.hrv, (value) => `${round(value)} ms`),
    compare('resting HR', week.restingHeartRate, before?.restingHeartRate, (value) => `${round(value)} bpm`),
    compare('asleep', week.asleepMs, before?.asleepMs, duration),
    compare('strain', week.strain, before?.strain, (value) => round(value, 1)),
  ].join(' · ');
}

/** One member's week against the week before, and the week's workouts by sport. */
function memberWeek(member: Member, rows: readonly DailyRow[], sports: readonly SportTotal[], today: string): string {
  const name = `*${escapeSlackText(member.name)}*`;
  const days = byDay(rows);
  const week = weekMeans(days, today);
  if (week.days === 0) return `${name}: no data this week.`;
  const { before, header } = weekComparison(week, weekMeans(days, addDays(today, -7)));
  const workouts = sports.length === 0
    ? 'no workouts'
    : sports.map((sport) => `${escapeSlackText(sport.sport)} ${sport.count}× ${duration(sport.minutes * 60_000)}`).join(' · ');
  return `${name}: ${header}\n${weekLine(week, before)}\nWorkouts: ${workouts}`;
}

/** The weekly report (the chart goes with it as a file). */
export function weeklyReportMessage(input: {
  today: string;
  members: Member[];
  rows: DailyRow[];
  sports: SportTotal[];
  freshness: Freshness;
  /** Members not shown because they do not share. */
  privateCount?: number;
}): RichMessage {
  const { today, members, rows, sports, freshness } = input;
  const sections = members.map((member) =>
    memberWeek(
      member,
      rows.filter((row) => row.userId === member.userId),
      sports.filter((sport) => sport.userId === member.userId),
      today,
    ),
  );
  const title = `📊 Weekly report · ${dayLabel(addDays(today, -6))} – ${dayLabel(today)}`;
  const body = sections.length > 0 ? sections : [emptyText(input.privateCount)];
  return message(title, notes(freshness, input.privateCount), body);
}

function emptyText(privateCount = 0): string {
  return privateCount > 0 ? 'No member shares their values in this channel.' : 'No WHOOP account is connected yet.';
}
