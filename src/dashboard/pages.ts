// The dashboard's HTML: the sign-in form, the page shown while the dashboard is disabled, and the
// dashboard's shell. None of them carries health data: the shell's script fetches it after sign-in.
import type { FastifyReply } from 'fastify';

const STYLE = `
:root { color-scheme: light; --muted: #4b5563; --line: #e5e7eb; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; line-height: 1.45; color: #111827; background: #f9fafb; }
header { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center; justify-content: space-between; padding: .75rem 1rem; background: #111827; color: #fff; }
header h1 { font-size: 1.1rem; margin: 0; }
header form { margin: 0; }
main { max-width: 72rem; margin: 0 auto; padding: 1rem; }
section { background: #fff; border: 1px solid var(--line); border-radius: .5rem; padding: 1rem; margin-bottom: 1rem; }
h2 { font-size: 1.05rem; margin: 0 0 .5rem; }
h3 { font-size: .95rem; margin: 1rem 0 .25rem; }
.chart { width: 100%; min-height: 200px; }
.note, .muted { color: var(--muted); font-size: .9rem; }
.ranges { display: flex; gap: .5rem; flex-wrap: wrap; }
button, .button { font: inherit; padding: .4rem .8rem; border-radius: .4rem; border: 1px solid #9ca3af; background: #fff; color: #111827; cursor: pointer; text-decoration: none; display: inline-block; }
button[aria-pressed="true"] { background: #111827; color: #fff; border-color: #111827; }
.table { width: 100%; overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); }
th { white-space: nowrap; }
td { overflow-wrap: break-word; }
.status-failed, .status-reauthorization_required { color: #b91c1c; font-weight: 600; }
.status-succeeded, .status-active { color: #15803d; }
.login { max-width: 24rem; margin: 4rem auto; }
.login input[type=password] { width: 100%; font: inherit; padding: .5rem; margin: .25rem 0 1rem; }
.error { color: #b91c1c; font-weight: 600; }
form.inline { display: inline; margin-left: .5rem; }
`;

// Only our own scripts and the charts' inline styles: nothing else loads, nothing external is contacted. Forms
// post to the service itself; `formTargets` adds where such a post may redirect (WHOOP's authorize page, for
// the operator's Connect button: browsers hold redirects after a form to form-action).
const csp = (formTargets: string[]) =>
  `default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; form-action ${["'self'", ...formTargets].join(' ')}; frame-ancestors 'none'; base-uri 'none'`;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function document(title: string, body: string, scripts: string[] = []): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,"><style>${STYLE}</style></head>
<body>${body}${scripts.map((src) => `<script src="${src}"></script>`).join('')}</body></html>`;
}

export function sendPage(reply: FastifyReply, status: number, html: string, formTargets: string[] = []) {
  return reply
    .status(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('content-security-policy', csp(formTargets))
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'same-origin')
    .send(html);
}

export const disabledPage = () =>
  document(
    'whoop-sync dashboard: disabled',
    `<main class="login"><section><h1>The dashboard is disabled</h1>
<p>The dashboard shows health data, so it only runs behind a sign-in. To enable it, set
<code>DASHBOARD_PASSWORD</code> (a long random password, e.g. <code>openssl rand -base64 24</code>) in the
service's environment or <code>.env</code> and restart whoop-sync; then sign in here with that password.</p>
<p>Messages that send you here to connect or reconnect a WHOOP account: without the dashboard, type
<code>/whoop connect</code> in Slack, or run <code>npm run connect</code> on the server.</p>
<p class="note"><code>DASHBOARD_SESSION_DAYS</code> sets how long a sign-in lasts (default 7 days).</p></section></main>`,
  );

export function loginPage(csrfToken: string, error?: string): string {
  return document(
    'whoop-sync: sign in',
    `<main class="login"><section><h1>Sign in to the dashboard</h1>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/login">
<input type="hidden" name="_csrf" value="${escapeHtml(csrfToken)}">
<label for="password">Dashboard password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required autofocus maxlength="1024">
<button type="submit">Sign in</button>
</form></section></main>`,
  );
}

/** `sections`: server-rendered parts by viewer (the operator's member links, a member's MCP token), escaped already. */
export function dashboardPage(csrfToken: string, scripts: string[], viewer: 'operator' | 'member', sections = ''): string {
  // The operator's Connect and Reconnect buttons submit this form (see public/dashboard.js).
  const connect = viewer === 'operator'
    ? `<form method="post" action="/dashboard/connect" id="connect-form"><input type="hidden" name="_csrf" value="${escapeHtml(csrfToken)}"><button type="submit">Connect a WHOOP account</button></form>`
    : '<p class="note">This is your own dashboard: it shows only your data. Type <code>/whoop</code> in Slack for your settings.</p>';
  return document(
    'whoop-sync dashboard',
    `<header><h1>whoop-sync dashboard</h1>
<form method="post" action="/logout"><input type="hidden" name="_csrf" value="${escapeHtml(csrfToken)}"><button type="submit" id="sign-out">Sign out</button></form></header>
<main>
<section aria-label="Range"><div class="ranges" id="ranges" role="group" aria-label="Days shown">
<button type="button" data-range="30" aria-pressed="true">30 days</button>
<button type="button" data-range="90" aria-pressed="false">90 days</button>
<button type="button" data-range="365" aria-pressed="false">365 days</button>
</div><p class="note" id="range-note"></p></section>
<div id="members"><p class="muted">Loading…</p></div>
<section><h2>Accounts</h2><div class="table" id="accounts"></div>${connect}</section>
${sections}
<section><h2>Recent sync runs</h2><div class="table" id="runs"></div></section>
<section><h2>Next scheduled runs</h2><div class="table" id="schedules"></div>
<h3>Digests</h3><div class="table" id="digests"></div></section>
</main>`,
    scripts,
  );
}

/** What a `/whoop dashboard` link opens: one button, so a link preview fetching the link spends nothing. */
export function signInLinkPage(csrfToken: string, ticket: string): string {
  return document(
    'whoop-sync: open your dashboard',
    `<main class="login"><section><h1>Open your dashboard</h1>
<p>This link signs you in to your own dashboard, once.</p>
<form method="post" action="/dashboard/sign-in">
<input type="hidden" name="_csrf" value="${escapeHtml(csrfToken)}">
<input type="hidden" name="ticket" value="${escapeHtml(ticket)}">
<button type="submit" id="open-dashboard">Open my dashboard</button>
</form></section></main>`,
  );
}

export function linkRefusedPage(): string {
  return document(
    'whoop-sync: link expired',
    `<main class="login"><section><h1>This link is invalid or has expired</h1>
<p>Sign-in links work once, for 5 minutes. Type <code>/whoop dashboard</code> in Slack for a new one.</p></section></main>`,
  );
}

const hidden = (csrfToken: string) => `<input type="hidden" name="_csrf" value="${escapeHtml(csrfToken)}">`;

/** The operator's list of members with the Slack user each is linked to, each changeable. */
export function memberLinksSection(
  csrfToken: string,
  members: { userId: string; name: string; slackUserId: string | null }[],
): string {
  const rows = members.map((member) => `<tr><td>${escapeHtml(member.name)}</td><td>
<form method="post" action="/dashboard/members/${escapeHtml(member.userId)}/slack-user" class="slack-link">${hidden(csrfToken)}
<label>Slack user id <input name="slack_user_id" value="${escapeHtml(member.slackUserId ?? '')}" placeholder="U0123ABCD" pattern="[UW][A-Z0-9]{2,31}" maxlength="32" size="14"></label>
<button type="submit">Save</button></form></td></tr>`).join('');
  return `<section id="member-links"><h2>Members in Slack</h2>
<p class="note">Each account's Slack user gets the personal digests, <code>/whoop</code> settings and dashboard links. The Slack user id is on their profile (⋮ → Copy member ID). Leave it empty to unlink; a change ends the account's dashboard sessions and MCP token.</p>
<div class="table"><table><thead><tr><th>Member</th><th>Linked Slack user</th></tr></thead><tbody>${rows}</tbody></table></div></section>`;
}

/** A member's own MCP token: create one (shown once), or revoke it. */
export function mcpTokenSection(csrfToken: string, createdAt: Date | undefined, mcpUrl: string): string {
  const state = createdAt
    ? `<p>You have a token, created ${escapeHtml(createdAt.toISOString().slice(0, 16).replace('T', ' '))} UTC. Creating another replaces it.</p>
<form method="post" action="/dashboard/mcp-token/revoke">${hidden(csrfToken)}<button type="submit" id="revoke-mcp-token">Revoke my MCP token</button></form>`
    : '<p>You have no token.</p>';
  return `<section id="mcp-token"><h2>MCP token</h2>
<p class="note">An AI assistant holding this token can read your own WHOOP data (no one else's) through <code>${escapeHtml(mcpUrl)}</code>.</p>
${state}<form method="post" action="/dashboard/mcp-token">${hidden(csrfToken)}<button type="submit" id="create-mcp-token">Create ${createdAt ? 'a new' : 'an'} MCP token</button></form></section>`;
}

/** The one time a new MCP token is shown. */
export function mcpTokenCreatedPage(token: string, mcpUrl: string): string {
  return document(
    'whoop-sync: your MCP token',
    `<main class="login"><section><h1>Your MCP token</h1>
<p>Copy it now: it is shown only this once (only a hash of it is kept).</p>
<p><code id="mcp-token-value">${escapeHtml(token)}</code></p>
<p class="note">In your MCP client: server URL <code>${escapeHtml(mcpUrl)}</code>, header <code>Authorization: Bearer &lt;token&gt;</code>.</p>
<p><a class="button" href="/dashboard">Back to the dashboard</a></p></section></main>`,
  );
}

/** A dashboard form refused: what was wrong, and the way back. */
export function formRefusedPage(title: string, message: string): string {
  return document(
    `whoop-sync: ${title}`,
    `<main class="login"><section><h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p>
<p><a class="button" href="/dashboard">Back to the dashboard</a></p></section></main>`,
  );
}
