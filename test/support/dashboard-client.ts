// A browser's part in the dashboard, over plain HTTP: its forms (with their CSRF token), the operator's sign-in
// and a member's `/whoop dashboard` link. Cookies are passed explicitly, as a browser would send them.
import { expect } from 'vitest';
import type { Environment } from './environment.js';

export const sessionCookie = (response: Response) =>
  response.headers.getSetCookie().find((line) => line.startsWith('whoop_sync_session='))?.split(';')[0];
export const csrfOf = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)![1]!;

export function dashboardClient(env: Environment, password: string) {
  const get = (path: string, cookie?: string, base = env.app.url) =>
    fetch(`${base}${path}`, { redirect: 'manual', headers: cookie ? { cookie } : {} });
  const post = (path: string, cookie: string | undefined, fields: Record<string, string>) =>
    fetch(`${env.app.url}${path}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}) },
      body: new URLSearchParams(fields).toString(),
    });

  /** `/whoop dashboard` as `user`: the link's ticket. */
  async function dashboardLink(user: string): Promise<string> {
    const answer = (await (await env.command('dashboard', { command: '/whoop', user_id: user })).json()) as { response_type: string; text: string };
    expect(answer.response_type).toBe('ephemeral');
    const link = /<(http[^|>]+)\|Open your dashboard>/.exec(answer.text)![1]!;
    expect(link.startsWith(`${env.config.publicUrl}/dashboard/sign-in?ticket=`)).toBe(true);
    return new URL(link).searchParams.get('ticket')!;
  }

  /** Opens the link and presses its button, as a browser would: the session cookie, or the refusal. */
  async function useLink(ticket: string): Promise<{ status: number; cookie?: string }> {
    const page = await get(`/dashboard/sign-in?ticket=${ticket}`);
    expect(page.status).toBe(200);
    const pressed = await post('/dashboard/sign-in', sessionCookie(page), { ticket, _csrf: csrfOf(await page.text()) });
    return { status: pressed.status, ...(pressed.status === 303 ? { cookie: sessionCookie(pressed)! } : {}) };
  }

  /** A member's session, from a fresh `/whoop dashboard` link. */
  async function memberCookie(user: string): Promise<string> {
    const { status, cookie } = await useLink(await dashboardLink(user));
    expect(status).toBe(303);
    return cookie!;
  }

  /** The operator's session (POST /login is limited to 10 a minute: sign in once per test file or so). */
  async function operatorCookie(): Promise<string> {
    const form = await get('/login');
    const response = await post('/login', sessionCookie(form), { _csrf: csrfOf(await form.text()), password });
    expect(response.status).toBe(303);
    return sessionCookie(response)!;
  }

  /**
   * The dashboard page for `cookie`: its HTML, a CSRF token for its forms, and the cookie to send with them (the
   * page stores the token's secret in the session, so the cookie changes when it had none).
   */
  async function dashboard(cookie: string): Promise<{ html: string; csrf: string; cookie: string }> {
    const page = await get('/dashboard', cookie);
    expect(page.status).toBe(200);
    const html = await page.text();
    return { html, csrf: csrfOf(html), cookie: sessionCookie(page) ?? cookie };
  }

  return { get, post, dashboardLink, useLink, memberCookie, operatorCookie, dashboard };
}
