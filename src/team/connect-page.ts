// The page a personal connect link (GET /oauth/whoop?ticket=…) opens: one button that spends the link (POST),
// so that a link preview or a mail scanner fetching the link starts nothing.
import type { FastifyReply } from 'fastify';
import { html } from '../util/html.js';

/** `whoopOrigin`: the form's POST redirects there, and browsers hold redirects after a form to form-action. */
export function connectButtonPage(reply: FastifyReply, ticket: string, whoopOrigin: string) {
  const body = html`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>whoop-sync: connect your WHOOP account</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 36rem; margin: 4rem auto; line-height: 1.5">
<h1>Connect your WHOOP account</h1>
<p>WHOOP asks you to sign in and approve access; then whoop-sync keeps your data in sync. This link works once.</p>
<form method="post" action="/oauth/whoop"><input type="hidden" name="ticket" value="${ticket}">
<button type="submit" id="connect">Continue to WHOOP</button></form></body></html>`;
  return reply
    .status(200)
    .header('content-type', 'text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('referrer-policy', 'no-referrer')
    .header('content-security-policy', `default-src 'none'; style-src 'unsafe-inline'; form-action 'self' ${whoopOrigin}; frame-ancestors 'none'`)
    .send(body.text);
}
