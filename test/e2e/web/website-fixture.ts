/**
 * One device and one chromium for a file of website tests: the device process on a fresh data dir
 * with its admin password already set through the REST client (test/support/rest-fixture.ts), chromium
 * trusting the device's certificate alone, and pages opened at a given width, logged in through the
 * login form when asked. Every page error fails the test.
 */
import assert from 'node:assert/strict';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium, spkiPin } from '../../support/browser.ts';
import { ADMIN_PASSWORD, type RestFixture, startRestFixture } from '../../support/rest-fixture.ts';
import { logIn } from './website-steps.ts';

export { ADMIN_PASSWORD };

export interface WebsiteFixture {
  readonly rest: RestFixture;
  readonly browser: Browser;
  /** A new page at `width` (default 1280) on `hash`; logged in as `login` first when given. */
  open(options?: { width?: number; hash?: string; login?: [string, string] }): Promise<Page>;
  close(): Promise<void>;
}

export async function startWebsite(extraArgs: readonly string[] = []): Promise<WebsiteFixture> {
  const rest = await startRestFixture(extraArgs);
  const browser = await launchChromium(spkiPin(rest.ca));
  const contexts: BrowserContext[] = [];
  return {
    rest,
    browser,
    async open({ width = 1280, hash = '#/', login } = {}) {
      const context = await browser.newContext({ viewport: { width, height: 800 } });
      contexts.push(context);
      const page = await context.newPage();
      page.on('pageerror', (error) => assert.fail(`page error: ${error.message}`));
      await page.goto(`${rest.httpsUrl}/`);
      if (login) await logIn(page, ...login);
      await page.goto(`${rest.httpsUrl}/${hash}`);
      return page;
    },
    async close() {
      for (const context of contexts) await context.close().catch(() => undefined);
      await browser.close().catch(() => undefined);
      await rest.close();
    },
  };
}
