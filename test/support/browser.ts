/**
 * Debian's chromium driven by playwright-core for the website's end-to-end tests: launched headless
 * with the flags this machine needs, trusting exactly the device's own certificate (by the SHA-256 of
 * its public key, as a pinned client would), and a DevTools-protocol recorder of every request a page
 * sends, bodies included.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { REPO_ROOT } from './device-process.ts';

export const CHROMIUM = '/usr/bin/chromium';
export const SCREENSHOT_DIR = join(REPO_ROOT, 'test-output', 'screenshots');

/** base64 SHA-256 of the certificate's SubjectPublicKeyInfo: what --ignore-certificate-errors-spki-list takes. */
export function spkiPin(certificatePem: string): string {
  const spki = new X509Certificate(certificatePem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

/**
 * Chromium trusting the certificate with `pin` (and no other untrusted one; null: none at all), with
 * `extraArgs` after the flags this machine needs.
 */
export function launchChromium(pin: string | null, extraArgs: readonly string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    timeout: 30_000,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
      // The website speaks the browser's language (web/src/i18n.ts): English unless a test asks for
      // another (a context's `locale`), whatever the machine's LANG.
      '--lang=en-US',
      ...(pin === null ? [] : [`--ignore-certificate-errors-spki-list=${pin}`]),
      ...extraArgs,
    ],
  });
}

export interface SentRequest {
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** Records every request the page sends (URL, headers, body) through the DevTools protocol. */
export async function recordRequests(
  context: BrowserContext,
  page: Page,
  into: SentRequest[],
): Promise<void> {
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  cdp.on('Network.requestWillBeSent', (event) => {
    const { request } = event;
    const sent = {
      url: request.url,
      headers: request.headers as Record<string, string>,
      body: request.postData ?? '',
    };
    into.push(sent);
    // Chromium leaves long bodies out of the event; ask for them.
    if (request.hasPostData && request.postData === undefined) {
      cdp
        .send('Network.getRequestPostData', { requestId: event.requestId })
        .then((data) => into.push({ ...sent, body: data.postData }))
        .catch(() => into.push({ ...sent, body: '<body not available>' }));
    }
  });
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
}

/** Polls `read` until it returns a truthy value or `timeoutMs` passes; returns the last value. */
export async function waitUntil<T>(read: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value || Date.now() > end) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
