/**
 * The website's Registry page end to end: the real device process, Debian's chromium over HTTPS with
 * the device's certificate pinned, and SCADA applications played by this test with the reference
 * client (firmware/client/registry-client.ts) over HTTPS trusting that certificate. The administrator
 * opens registration and watches the countdown; requests appear without a reload with the fingerprint
 * the application computed; Allow hands the application a working read-only key, a refused Allow says
 * why next to the button, Deny gets the application a 403; Close ends it. A user with security.read
 * alone sees the page without its controls. Screenshots at desktop and phone width.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import nacl from 'tweetnacl';
import { keyFingerprint } from '../../../firmware/auth/key-fingerprint.ts';
import { type ClientError, DeviceClient, expectOk } from '../../../firmware/client/device-client.ts';
import { requestApiKey } from '../../../firmware/client/registry-client.ts';
import { launchChromium, screenshot, spkiPin } from '../../support/browser.ts';
import { type RunningDevice, startDevice } from '../../support/device-process.ts';
import { assertUsable, heading, logIn, logOut, navLinks } from './website-steps.ts';

const ADMIN_PASSWORD = 'Schaltwart-Nord 2026!';
const AUDITOR_PASSWORD = 'Nur-Lesen#Süd-4';

/** mm:ss → seconds. */
function seconds(clock: string): number {
  const match = /^(\d\d):(\d\d)$/.exec(clock);
  assert.ok(match, `a countdown as mm:ss, not '${clock}'`);
  return Number(match[1]) * 60 + Number(match[2]);
}

describe('Registry page in chromium', () => {
  let dataDir: string;
  let device: RunningDevice;
  let browser: Browser;
  let ca: string;
  let httpsUrl: string;
  let admin: DeviceClient;
  const contexts: BrowserContext[] = [];

  async function open(width = 1280): Promise<Page> {
    const context = await browser.newContext({ viewport: { width, height: 800 } });
    contexts.push(context);
    const page = await context.newPage();
    page.on('pageerror', (error) => assert.fail(`page error: ${error.message}`));
    await page.goto(`${httpsUrl}/`);
    return page;
  }

  /** An application asking for a key from `source` (a loopback address), as `metergate register` does. */
  function application(name: string, source = '127.0.0.1') {
    const keyPair = nacl.box.keyPair();
    const client = new DeviceClient(httpsUrl, { ca, localAddress: source });
    const result = requestApiKey(client, name, { keyPair, pollMs: 1000, timeoutMs: 60_000 });
    // Awaited later; a rejection must not count as unhandled before that.
    result.catch(() => undefined);
    return { result, fingerprint: keyFingerprint(keyPair.publicKey) };
  }

  /** GET or POST with an API key over HTTPS, trusting the device certificate only. */
  async function withKey(key: string, method: string, path: string): Promise<number> {
    return (await new DeviceClient(httpsUrl, { ca, apiKey: key }).request(method, path)).status;
  }

  /** A request as the page lists it: a card headed by the application's name. */
  const request = (page: Page, name: string) =>
    page.getByRole('article').filter({ has: heading(page, name) });

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'metergate-registry-web-'));
    device = await startDevice(['--data-dir', dataDir]);
    ca = readFileSync(join(dataDir, 'tls', 'cert.pem'), 'utf8');
    httpsUrl = `https://127.0.0.1:${device.ready.https}`;
    admin = new DeviceClient(httpsUrl, { ca });
    await admin.login('admin', 'CBM_1234');
    await admin.changeOwnPassword('admin', 'CBM_1234', ADMIN_PASSWORD);
    const password = await admin.seal('auditor1', AUDITOR_PASSWORD);
    expectOk(
      await admin.request('POST', '/api/v1/users', {
        type: 'user',
        name: 'auditor1',
        password,
        permissions: ['security.read'],
      }),
    );
    browser = await launchChromium(spkiPin(ca));
  });

  after(async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    await browser?.close();
    await device?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('the administrator opens registration, allows one application a read-only key, denies another, and closes it', async () => {
    const page = await open();
    await logIn(page, 'admin', ADMIN_PASSWORD);
    await page.getByRole('navigation').getByRole('link', { name: 'Registry' }).click();
    await heading(page, 'Client registry').waitFor();
    await page.getByText('Closed: applications cannot ask for an API key.').waitFor();
    assert.equal(await page.getByRole('timer').count(), 0, 'no countdown while closed');
    await page.evaluate(() => {
      (window as unknown as { notReloaded: boolean }).notReloaded = true;
    });

    await page.getByRole('button', { name: 'Open for 5 minutes' }).click();
    const timer = page.getByRole('timer');
    await timer.waitFor();
    const first = seconds((await timer.textContent()) ?? '');
    assert.ok(first > 290 && first <= 300, `the window starts at 5 minutes (${first} s)`);
    await page.waitForTimeout(2_200);
    const later = seconds((await timer.textContent()) ?? '');
    assert.ok(
      later < first && later >= first - 4,
      `the countdown ticks without a reload: ${first} → ${later}`,
    );

    const scada = application('scada_1');
    const entry = request(page, 'scada_1');
    await entry.waitFor({ timeout: 10_000 });
    const shown = (await entry.locator('code').textContent()) ?? '';
    assert.equal(shown, scada.fingerprint, 'the page lists the fingerprint the application computed');
    assert.match((await entry.textContent()) ?? '', /127\.0\.0\.1/, 'and where the request came from');
    await screenshot(page, 'registry-pending-1280px');
    await assertUsable(page, 'registry');

    await entry.getByLabel('Preset').selectOption('read-only');
    await entry.getByRole('button', { name: 'Allow' }).click();
    await page.getByText(/^scada_1 allowed \(slot 4\).*never sees it/).waitFor();
    const granted = await scada.result;
    assert.equal(granted.slot, 4);
    assert.equal(granted.fingerprint, scada.fingerprint);
    assert.ok(!(await page.content()).includes(granted.key), 'the page never had the key');
    assert.equal(await withKey(granted.key, 'GET', '/api/v1/measurements'), 200, 'the key reads');
    assert.equal(await withKey(granted.key, 'POST', '/api/v1/meters/reset'), 403, 'read-only');
    await entry.waitFor({ state: 'detached' });

    // An application asking under a name that is taken: Allow says why, next to the button; Deny.
    const impostor = application('auditor1', '127.0.0.2');
    const second = request(page, 'auditor1');
    await second.waitFor({ timeout: 10_000 });
    assert.equal(await second.locator('code').textContent(), impostor.fingerprint);
    assert.match((await second.textContent()) ?? '', /127\.0\.0\.2/);
    await second.getByRole('button', { name: 'Allow' }).click();
    const refusal = second.getByRole('alert');
    await refusal.waitFor();
    assert.match((await refusal.textContent()) ?? '', /auditor1.*already used by slot 3/);
    await screenshot(page, 'registry-refused-1280px');
    await second.getByRole('button', { name: 'Deny' }).click();
    await page.getByText('auditor1 denied.').waitFor();
    await assert.rejects(impostor.result, (error: ClientError) => {
      assert.equal(error.status, 403);
      assert.equal(error.code, 'request-denied');
      return true;
    });
    await page.getByText('No requests pending.').waitFor();

    await page.getByRole('button', { name: 'Close registration' }).click();
    await page.getByText('Closed: applications cannot ask for an API key.').waitFor();
    assert.equal(await page.getByRole('timer').count(), 0, 'the countdown is gone');
    const status = await admin.request<{ open: boolean }>('GET', '/api/v1/registry');
    assert.equal(status.body.open, false);
    assert.equal(
      await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded),
      true,
      'all of it without reloading the page',
    );
    await screenshot(page, 'registry-closed-1280px');
  });

  it('fits a phone: a pending request at 360 px, every control labelled, no sideways scrolling', async () => {
    const page = await open(360);
    await logIn(page, 'admin', ADMIN_PASSWORD);
    await page.goto(`${httpsUrl}/#/registry`);
    await page.getByRole('button', { name: 'Open for 5 minutes' }).click();
    await page.getByRole('timer').waitFor();
    const scada = application('scada_phone_2');
    await request(page, 'scada_phone_2').waitFor({ timeout: 10_000 });
    await screenshot(page, 'registry-pending-360px');
    await assertUsable(page, 'registry');
    // Keyboard: from the preset, Tab reaches Allow and Deny.
    await request(page, 'scada_phone_2').getByLabel('Preset').focus();
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Allow');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Deny');
    await page.keyboard.press('Enter');
    await assert.rejects(scada.result, { code: 'request-denied' });
    await page.getByRole('button', { name: 'Close registration' }).click();
    await page.getByText('Closed: applications cannot ask for an API key.').waitFor();
    await logOut(page);
  });

  it('a user with security.read alone sees the registry and its requests, but nothing to act with', async () => {
    expectOk(await admin.request('POST', '/api/v1/registry/open'));
    const scada = application('scada_seen');
    for (const width of [1280, 360]) {
      const page = await open(width);
      await logIn(page, 'auditor1', AUDITOR_PASSWORD);
      assert.ok((await navLinks(page)).includes('Registry'), 'the menu offers the page');
      await page.getByRole('navigation').getByRole('link', { name: 'Registry' }).click();
      await page.getByText('Read only: deciding requests needs security.write.').waitFor();
      await page.getByRole('timer').waitFor();
      const entry = request(page, 'scada_seen');
      await entry.waitFor({ timeout: 10_000 });
      assert.equal(await entry.locator('code').textContent(), scada.fingerprint);
      assert.equal(await page.getByRole('button', { name: /Open|Close|Allow|Deny/ }).count(), 0);
      assert.equal(await page.getByLabel('Preset').count(), 0);
      await screenshot(page, `registry-read-only-${width}px`);
      await assertUsable(page, 'registry read-only');
      await logOut(page);
    }
    expectOk(await admin.request('POST', '/api/v1/registry/close'));
    await assert.rejects(scada.result, { code: 'registry-closed' });
  });
});
