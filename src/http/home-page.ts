// The HTML of the page at `/`: the setup checklist as sections of rows, plain HTML and one inline style
// sheet. No scripts, no external assets, and no symbol that needs an emoji font: states are text badges.
import { createHash } from 'node:crypto';
import { html, SafeHtml } from '../util/html.js';
import { nextStep, type RowState, type SetupRow, type SetupSection } from './setup-checklist.js';

const STYLE = `
:root { color-scheme: light dark; --ok: #1a7f37; --missing: #b42318; --attention: #9a6700; --line: #8884; }
* { box-sizing: border-box; }
body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto; max-width: 44rem; padding: 1rem; }
h1 { font-size: 1.5rem; margin: 0.5rem 0; }
h2 { font-size: 1.15rem; margin: 1.5rem 0 0.25rem; }
p.lead { margin: 0 0 1rem; }
p.next { margin: 0 0 1rem; padding: 0.5rem 0.75rem; border-left: 0.25rem solid var(--attention); }
p.next.done { border-left-color: var(--ok); }
ul.rows { list-style: none; margin: 0; padding: 0; }
ul.rows li { border-top: 1px solid var(--line); padding: 0.6rem 0; }
.label { font-weight: 600; margin-right: 0.5rem; }
.badge { display: inline-block; font-size: 0.8rem; font-weight: 700; line-height: 1.4; padding: 0 0.45rem; border-radius: 0.25rem; color: #fff; vertical-align: 0.1em; }
.badge.ok { background: var(--ok); }
.badge.missing { background: var(--missing); }
.badge.attention { background: var(--attention); }
.detail { margin: 0.2rem 0 0; }
code.url { display: block; margin-top: 0.3rem; padding: 0.4rem 0.5rem; border: 1px solid var(--line); border-radius: 0.25rem; overflow-wrap: anywhere; user-select: all; }
.button { display: inline-block; margin-top: 1.25rem; padding: 0.6rem 1.1rem; border-radius: 0.4rem; background: #0b57d0; color: #fff; font-weight: 600; text-decoration: none; }
a.button:focus, a.button:hover { background: #0842a0; }
span.button { background: #8a8f98; cursor: not-allowed; }
a.link { display: block; margin-top: 0.3rem; overflow-wrap: anywhere; }
`;

/** The Content-Security-Policy of the page: nothing but this exact style sheet may load or run. */
export const HOME_PAGE_CSP = [
  "default-src 'none'",
  `style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`,
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const BADGE: Record<RowState, string> = { ok: 'OK', missing: 'Missing', attention: 'Needs attention' };

function row(item: SetupRow): SafeHtml {
  const badge = item.state ? html`<span class="badge ${item.state}">${BADGE[item.state]}</span>` : html``;
  const url = item.url ? html`<code class="url">${item.url}</code>` : html``;
  const link = item.link ? html`<a class="link" href="${item.link}">${item.link}</a>` : html``;
  return html`<li><span class="label">${item.label}</span>${badge}<p class="detail">${item.detail}</p>${url}${link}</li>`;
}

function section(part: SetupSection): SafeHtml {
  return html`<section><h2>${part.title}</h2><ul class="rows">${part.rows.map(row)}</ul></section>`;
}

/** `connectPath` is undefined while WHOOP is not configured: the button is then shown disabled, leading nowhere. */
export function homePage(sections: SetupSection[], connectPath: string | undefined): string {
  const step = nextStep(sections);
  const next = step ? html`<p class="next"><strong>Next step:</strong> ${step}.</p>` : html`<p class="next done">Nothing is missing.</p>`;
  const connect = connectPath
    ? html`<a class="button" href="${connectPath}">Connect WHOOP</a>`
    : html`<span class="button" aria-disabled="true" title="Set WHOOP_CLIENT_ID and WHOOP_CLIENT_SECRET first">Connect WHOOP</span>`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>whoop-sync</title>
<style>${new SafeHtml(STYLE)}</style>
</head>
<body>
<h1>whoop-sync</h1>
<p class="lead">Keeps WHOOP data in Postgres, refreshed on a schedule and with <code>/sync [days]</code> in Slack. This page shows what is set up and what is missing.</p>
${next}
${sections.map(section)}
${connect}
</body>
</html>
`.text;
}

