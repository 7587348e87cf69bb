// Debian's Chromium (/usr/bin/chromium), driven by playwright-core, for tests of pages in a real browser.
// A browser test that cannot start Chromium fails with the reason: it never skips.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

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
