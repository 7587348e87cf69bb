// Debian's Chromium (/usr/bin/chromium), driven by playwright-core, for tests of pages in a real browser.
// A browser test that cannot start Chromium fails with the reason: it never skips.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';

// Without the background-networking flags Chromium keeps trying to reach Google's hosts, which this
// machine's closed network refuses.
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
];

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** A fresh Chromium profile (its own user-data-dir), with the given viewport. */
export async function launchBrowser(options: { viewport?: { width: number; height: number } } = {}): Promise<Browser> {
  const userDataDir = await mkdtemp(join(tmpdir(), 'whoop-sync-chromium-'));
  try {
    const context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      args: ARGS,
      headless: true,
      ...(options.viewport ? { viewport: options.viewport } : {}),
    });
    return {
      context,
      async close() {
        await context.close();
        await rm(userDataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(userDataDir, { recursive: true, force: true });
    throw new Error(
      `cannot start Chromium at ${CHROMIUM} (install it with: apt-get install -y chromium): ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/** A phone-sized viewport (an iPhone 12–15 in CSS pixels). */
export const PHONE = { width: 390, height: 844 };

/** Everything a page logged as an error or warning, failed to load, or requested from anywhere but `origin`. */
export function watchPage(page: Page, origin: string): string[] {
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') problems.push(`console ${message.type()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('requestfailed', (request) => problems.push(`request failed: ${request.url()}`));
  page.on('request', (request) => {
    if (new URL(request.url()).origin !== origin) problems.push(`external request: ${request.url()}`);
  });
  return problems;
}

/**
 * Signs the operator in with the dashboard's form. POST /login takes 10 a minute per address and process: a
 * test file signs in a few times at most, and keeps the page (its browser profile holds the session) for the rest.
 */
export async function signInWithPassword(page: Page, baseUrl: string, password: string): Promise<void> {
  await page.goto(`${baseUrl}/login`);
  await page.fill('#password', password);
  await Promise.all([page.waitForURL(`${baseUrl}/dashboard`), page.click('button[type=submit]')]);
}
