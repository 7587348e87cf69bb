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
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); white-space: nowrap; }
.status-failed, .status-reauthorization_required { color: #b91c1c; font-weight: 600; }
.status-succeeded, .status-active { color: #15803d; }
.login { max-width: 24rem; margin: 4rem auto; }
.login input[type=password] { width: 100%; font: inherit; padding: .5rem; margin: .25rem 0 1rem; }
.error { color: #b91c1c; font-weight: 600; }
`;

// Only our own scripts and the charts' inline styles: nothing else loads, nothing external is contacted.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function document(title: string, body: string, scripts: string[] = []): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,"><style>${STYLE}</style></head>
<body>${body}${scripts.map((src) => `<script src="${src}"></script>`).join('')}</body></html>`;
}

export function sendPage(reply: FastifyReply, status: number, html: string) {
  return reply
    .status(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('content-security-policy', CSP)
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

export function dashboardPage(csrfToken: string, scripts: string[]): string {
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
<section><h2>Accounts</h2><div class="table" id="accounts"></div></section>
<section><h2>Recent sync runs</h2><div class="table" id="runs"></div></section>
<section><h2>Next scheduled runs</h2><div class="table" id="schedules"></div>
<h3>Digests</h3><div class="table" id="digests"></div></section>
</main>`,
    scripts,
  );
}
