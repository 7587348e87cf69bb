// The page at `/` in a real Chromium at a phone's viewport: it renders without a console error (a style
// sheet the CSP refused would be one), the URLs to paste are visible, and nothing overflows sideways.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, PHONE, type Browser } from '../support/browser.js';
import { startEnvironment, type Environment } from '../support/environment.js';

const PUBLIC_URL = 'https://whoop-sync.example.org';

describe('GET / in Chromium on a phone', () => {
  let env: Environment;
  let browser: Browser;
  beforeAll(async () => {
    env = await startEnvironment({ days: 1, env: { PUBLIC_URL, SLACK_BOT_TOKEN: '' } });
    browser = await launchBrowser({ viewport: PHONE });
  });
  afterAll(async () => {
    await browser?.close();
    await env?.close();
  });

  it('renders the state and the URLs to paste, styled, without console errors', async () => {
    const page = await browser.context.newPage();
    const problems: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') problems.push(message.text());
    });
    page.on('pageerror', (error) => problems.push(error.message));
    const response = await page.goto(`${env.app.url}/`);
    expect(response?.status()).toBe(200);

    for (const url of [`${PUBLIC_URL}/slack/commands`, `${PUBLIC_URL}/oauth/whoop/callback`]) {
      await expect(page.getByText(url, { exact: true }).isVisible()).resolves.toBe(true);
    }
    await expect(page.getByRole('link', { name: 'Connect WHOOP' }).isVisible()).resolves.toBe(true);
    // The style sheet applied (the CSP hash matches): a badge has its colour and stays text.
    const missing = page.locator('.badge.missing').first();
    await expect(missing.textContent()).resolves.toBe('Missing');
    await expect(page.evaluate("getComputedStyle(document.querySelector('.badge.missing')).backgroundColor")).resolves.toBe('rgb(180, 35, 24)');
    // Page functions as text: the project's TypeScript has no DOM types.
    const width = (await page.evaluate('({ scroll: document.documentElement.scrollWidth, view: window.innerWidth })')) as { scroll: number; view: number };
    expect(width.scroll).toBeLessThanOrEqual(width.view);
    expect(problems).toEqual([]);
  });
});

describe('GET / in Chromium, on a laptop without WHOOP credentials or a public address', () => {
  let env: Environment;
  let browser: Browser;
  beforeAll(async () => {
    // PUBLIC_URL unset: http://localhost:PORT, as on a first start.
    env = await startEnvironment({
      days: 1,
      env: { PUBLIC_URL: '', WHOOP_CLIENT_ID: '', WHOOP_CLIENT_SECRET: '', DASHBOARD_PASSWORD: 'correct horse battery staple' },
    });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await env?.close();
  });

  it('shows Connect WHOOP disabled, says Slack cannot reach the Request URL, and links the dashboard', async () => {
    const page = await browser.context.newPage();
    await page.goto(`${env.app.url}/`);
    // Not a link: nothing to follow to a 503 page, and it looks disabled.
    await expect(page.getByRole('link', { name: 'Connect WHOOP' }).count()).resolves.toBe(0);
    const button = page.getByText('Connect WHOOP', { exact: true });
    await expect(button.getAttribute('aria-disabled')).resolves.toBe('true');
    const look = await page.evaluate("(({ backgroundColor, cursor }) => [backgroundColor, cursor])(getComputedStyle(document.querySelector('.button')))");
    expect(look).toEqual(['rgb(138, 143, 152)', 'not-allowed']);
    await button.click();
    expect(page.url()).toBe(`${env.app.url}/`);

    await expect(page.getByText(/^Slack cannot reach this address/).isVisible()).resolves.toBe(true);
    await expect(page.getByText(/PUBLIC_URL.*Socket Mode \(SLACK_APP_TOKEN\)/).isVisible()).resolves.toBe(true);

    const dashboard = page.getByRole('link', { name: `${env.config.publicUrl}/dashboard` });
    await expect(dashboard.getAttribute('href')).resolves.toBe(`${env.config.publicUrl}/dashboard`);
  });
});

describe('GET / in Chromium with nothing missing', () => {
  let env: Environment;
  let browser: Browser;
  beforeAll(async () => {
    env = await startEnvironment({ days: 1, env: { PUBLIC_URL } });
    expect((await env.connect()).status).toBe(200);
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await env?.close();
  });

  it('marks "Nothing is missing" as done, not as a warning', async () => {
    const page = await browser.context.newPage();
    await page.goto(`${env.app.url}/`);
    await expect(page.getByText('Nothing is missing.', { exact: true }).isVisible()).resolves.toBe(true);
    await expect(page.evaluate("getComputedStyle(document.querySelector('p.next')).borderLeftColor")).resolves.toBe('rgb(26, 127, 55)');
    await expect(page.getByRole('link', { name: 'Connect WHOOP' }).getAttribute('href')).resolves.toBe('/dashboard');
  });
});
