/**
 * The device website end to end: the real device process, Debian's chromium through playwright-core,
 * over HTTPS with the device's own certificate (pinned) and over plain HTTP. Every request the
 * browsers send is recorded through the DevTools protocol, to show that no typed password is ever in
 * one. Screenshots of every page, at desktop and phone width, go to test-output/screenshots/.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import {
  launchChromium,
  recordRequests,
  type SentRequest,
  screenshot,
  spkiPin,
  waitUntil,
} from '../../support/browser.ts';
import { type RunningDevice, startDevice } from '../../support/device-process.ts';
import { assertUsable, heading, logIn, logOut, navLinks } from './website-steps.ts';

const FACTORY_PASSWORD = 'CBM_1234';
const ADMIN_PASSWORD = 'Zähler-Chef 2026!';
const VIEWER_PASSWORD = 'Ablesung#Süd-7';
/** Every password typed into a page in this file; none may appear in any request. */
const TYPED = [FACTORY_PASSWORD, ADMIN_PASSWORD, VIEWER_PASSWORD];

const PAGES = [
  ['dashboard', '#/', 'Measurements'],
  ['settings', '#/settings', 'Measurement'],
  ['users', '#/users', 'Users and API keys'],
  ['security', '#/security', 'Client whitelist'],
  ['registry', '#/registry', 'Client registry'],
  ['certificates', '#/certificates', 'HTTPS certificate'],
  ['event-log', '#/events', 'Security event log'],
  ['backup', '#/backup', 'Make a backup'],
  ['account', '#/account', 'Account'],
] as const;

describe('device website in chromium', () => {
  let dataDir: string;
  let device: RunningDevice;
  let browser: Browser;
  let ca: string;
  let httpsUrl: string;
  let httpUrl: string;
  const sent: SentRequest[] = [];
  const contexts: BrowserContext[] = [];

  async function open(url: string, options: { width?: number; init?: () => void } = {}): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: options.width ?? 1280, height: 800 } });
    contexts.push(context);
    if (options.init) await context.addInitScript(options.init);
    const page = await context.newPage();
    await recordRequests(context, page, sent);
    page.on('pageerror', (error) => assert.fail(`page error: ${error.message}`));
    await page.goto(url);
    return page;
  }

  const text = async (locator: Locator) => (await locator.textContent()) ?? '';

  /** A request with the device's own certificate as the only trust anchor: a plain HTTPS client. */
  function httpsCall(method: string, path: string, key: string): Promise<{ status: number; body: unknown }> {
    return new Promise((resolve, reject) => {
      const req = request(
        `${httpsUrl}${path}`,
        { method, ca, headers: { Authorization: `Bearer ${key}` } },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : null }));
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'metergate-web-'));
    device = await startDevice(['--data-dir', dataDir]);
    ca = readFileSync(join(dataDir, 'tls', 'cert.pem'), 'utf8');
    httpsUrl = `https://127.0.0.1:${device.ready.https}`;
    httpUrl = `http://127.0.0.1:${device.ready.http}`;
    browser = await launchChromium(spkiPin(ca));
  });

  // Each test's pages close when it ends: left open, a dashboard goes on polling and holds its
  // keep-alive connections, and the device admits 32 per source address (http-listeners.ts), so a
  // later page could not load its scripts (seen: "The meter's website needs JavaScript" for 45 s).
  afterEach(async () => {
    for (const context of contexts.splice(0)) await context.close().catch(() => undefined);
  });

  after(async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    await browser?.close();
    await device?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('fresh device: admin/CBM_1234 must set a new password, then the dashboard shows values that change', async () => {
    const page = await open(`${httpsUrl}/`);
    await heading(page, 'Measurements').waitFor();
    assert.deepEqual(await navLinks(page), ['Dashboard'], 'anonymous sees the dashboard only');
    await screenshot(page, 'dashboard-anonymous');

    await page.getByRole('banner').getByRole('link', { name: 'Log in' }).click();
    await heading(page, 'Log in').waitFor();
    await screenshot(page, 'login');
    await logIn(page, 'admin', FACTORY_PASSWORD);

    await heading(page, 'Set a new password').waitFor();
    assert.deepEqual(await navLinks(page), ['Account'], 'nothing else is offered before the new password');
    await screenshot(page, 'forced-password-change');
    await page.goto(`${httpsUrl}/#/settings`);
    await heading(page, 'Set a new password').waitFor();

    await page.getByLabel('New password', { exact: true }).fill('admin1234');
    await page.getByLabel('Current password').fill(FACTORY_PASSWORD);
    await page.getByLabel('Repeat the new password').fill('admin1234');
    await page.getByRole('button', { name: 'Change password' }).click();
    const refusal = page.getByRole('alert');
    await refusal.waitFor();
    assert.match(await text(refusal), /like the username|common|user ?name/i, 'the rule is named');

    await page.getByLabel('New password', { exact: true }).fill(ADMIN_PASSWORD);
    await page.getByLabel('Repeat the new password').fill(`${ADMIN_PASSWORD}x`);
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByText('The two new passwords differ.').waitFor();

    await page.getByLabel('Repeat the new password').fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByRole('navigation').getByRole('link', { name: 'Users' }).waitFor({ timeout: 20_000 });
    assert.deepEqual(await navLinks(page), [
      'Account',
      'Backup',
      'Certificates',
      'Dashboard',
      'Event log',
      'Firmware',
      'Registry',
      'Security',
      'Settings',
      'Users',
    ]);

    await page.goto(`${httpsUrl}/#/`);
    const voltage = page.locator('[data-value="voltage.0"]');
    await voltage.waitFor();
    await page.evaluate(() => {
      (window as unknown as { notReloaded: boolean }).notReloaded = true;
    });
    const first = await text(voltage);
    assert.match(first, /^\d+\.\d V$/);
    const changed = await waitUntil(async () => (await text(voltage)) !== first);
    assert.ok(changed, `the voltage stayed at ${first}`);
    assert.equal(
      await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded),
      true,
    );
    await screenshot(page, 'dashboard');
  });

  it('a user with only measurements.read is offered no settings, security or reset, and the API refuses them', async () => {
    const page = await open(`${httpsUrl}/#/users`);
    await logIn(page, 'admin', ADMIN_PASSWORD);
    await page.goto(`${httpsUrl}/#/users`);
    await page.getByRole('button', { name: 'Add a user or API key' }).click();
    const add = page.getByRole('form', { name: 'Add user or API key' });
    await add.getByLabel('Name').fill('viewer1');
    await add.getByLabel('Password', { exact: true }).fill(VIEWER_PASSWORD);
    await add.getByLabel('Repeat the password').fill(VIEWER_PASSWORD);
    for (const box of await add.getByRole('checkbox').all()) {
      const name = await box.getAttribute('data-permission-name');
      if ((name === 'measurements.read') !== (await box.isChecked())) await box.click();
    }
    await add.getByRole('button', { name: 'Add user' }).click();
    await page.locator('tr[data-slot="3"]', { hasText: 'viewer1' }).waitFor({ timeout: 20_000 });
    assert.equal(await text(page.locator('tr[data-slot="3"] td.perms')), 'View measurements');
    await logOut(page);

    await logIn(page, 'viewer1', VIEWER_PASSWORD);
    await page.goto(`${httpsUrl}/#/`);
    await heading(page, 'Measurements').waitFor();
    assert.deepEqual(await navLinks(page), ['Account', 'Dashboard']);
    await heading(page, 'Min/max values').waitFor();
    assert.equal(await page.getByRole('button', { name: /reset/i }).count(), 0, 'no reset offered');
    assert.equal(await heading(page, 'Energy meters').count(), 0, 'meters.read is not granted');
    await screenshot(page, 'dashboard-measurements-only');
    await page.goto(`${httpsUrl}/#/settings`);
    await page.getByText('Your permissions do not include this page.').waitFor();

    const refused = await page.evaluate(async () => {
      const me = await (await fetch('/api/v1/me')).json();
      const headers = { 'X-CSRF-Token': me.csrfToken, 'Content-Type': 'application/json' };
      const calls: [string, RequestInit][] = [
        ['/api/v1/config', {}],
        ['/api/v1/config', { method: 'PATCH', headers, body: '{"measurement":{"vtRatio":2}}' }],
        ['/api/v1/users', {}],
        ['/api/v1/security', {}],
        ['/api/v1/meters/reset', { method: 'POST', headers }],
        ['/api/v1/minmax/reset', { method: 'POST', headers }],
      ];
      const out = [];
      for (const [path, init] of calls) {
        const response = await fetch(path, init);
        out.push(`${init.method ?? 'GET'} ${path} ${response.status} ${(await response.json()).error?.code}`);
      }
      return out;
    });
    for (const line of refused) assert.match(line, / 403 permission-denied$/, line);
    await logOut(page);
  });

  it('an API key with preset read-only is shown once, copied from the page, and works with a plain HTTPS client', async () => {
    const page = await open(`${httpsUrl}/`);
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: httpsUrl });
    await logIn(page, 'admin', ADMIN_PASSWORD);
    await page.goto(`${httpsUrl}/#/users`);
    await page.getByRole('button', { name: 'Add a user or API key' }).click();
    const add = page.getByRole('form', { name: 'Add user or API key' });
    await add.getByLabel('Type').selectOption('api-key');
    await add.getByLabel('Name').fill('scada1');
    await add.getByLabel('Preset').selectOption('read-only');
    await add.getByRole('button', { name: 'Create API key' }).click();
    const reveal = page.getByRole('region', { name: 'New API key' });
    await reveal.waitFor();
    await reveal.getByText('cannot show it again').waitFor();
    const key = await reveal.getByLabel('API key').inputValue();
    assert.match(key, /^mgk_[A-Za-z0-9_-]{43}$/);
    await reveal.getByRole('button', { name: 'Copy' }).click();
    await reveal.getByText('Copied.').waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), key);
    await screenshot(page, 'api-key-created');
    await reveal.getByRole('button', { name: 'I have stored it' }).click();
    await page.locator('tr[data-slot="4"]', { hasText: 'scada1' }).waitFor();
    assert.ok(!(await page.content()).includes(key), 'the key is gone from the page');

    const measurements = await httpsCall('GET', '/api/v1/measurements', key);
    assert.equal(measurements.status, 200);
    assert.equal((measurements.body as { voltage: number[] }).voltage.length, 3);
    assert.equal((await httpsCall('GET', '/api/v1/config', key)).status, 200);
    const reset = await httpsCall('POST', '/api/v1/meters/reset', key);
    assert.equal(reset.status, 403);
    assert.equal((reset.body as { error: { code: string } }).error.code, 'permission-denied');
    await logOut(page);
  });

  it('changing the permissions of anonymous changes what a logged-out browser sees', async () => {
    const visitor = await open(`${httpsUrl}/`);
    await heading(visitor, 'Energy meters').waitFor();
    assert.deepEqual(await navLinks(visitor), ['Dashboard']);

    const admin = await open(`${httpsUrl}/`);
    await logIn(admin, 'admin', ADMIN_PASSWORD);
    await admin.goto(`${httpsUrl}/#/users`);
    await admin.locator('tr[data-slot="2"]').getByRole('button', { name: 'Permissions' }).click();
    const edit = admin.getByRole('form', { name: 'Edit anonymous' });
    await edit.locator('[data-permission-name="meters.read"]').uncheck();
    await edit.locator('[data-permission-name="config.read"]').check();
    await edit.getByRole('button', { name: 'Save' }).click();
    await admin.locator('tr[data-slot="2"]', { hasText: 'View settings' }).waitFor();

    await visitor.reload();
    await heading(visitor, 'Measurements').waitFor();
    assert.equal(await heading(visitor, 'Energy meters').count(), 0);
    assert.deepEqual(await navLinks(visitor), ['Dashboard', 'Settings']);
    await visitor.getByRole('navigation').getByRole('link', { name: 'Settings' }).click();
    await visitor.getByText('Read only: changing settings needs config.write.').waitFor();
    assert.equal(await visitor.getByLabel('VT ratio').isDisabled(), true);
    assert.equal(await visitor.getByRole('button', { name: 'Save settings' }).count(), 0);
    await screenshot(visitor, 'settings-read-only-anonymous');
  });

  it('settings: a wrong value is explained next to its field; a right one is stored', async () => {
    const page = await open(`${httpsUrl}/`);
    await logIn(page, 'admin', ADMIN_PASSWORD);
    await page.goto(`${httpsUrl}/#/settings`);
    const vt = page.getByLabel('VT ratio');
    await vt.fill('20000');
    await page.getByRole('button', { name: 'Save settings' }).click();
    const field = page.locator('.field', { has: vt });
    await field.getByRole('alert').waitFor();
    assert.match(await text(field.getByRole('alert')), /10000/);
    await vt.fill('100');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByText('Saved.').waitFor();
    const config = await page.evaluate(async () => (await fetch('/api/v1/config')).json());
    assert.equal(config.measurement.vtRatio, 100);
  });

  it('every page at desktop and phone width: screenshots, labelled controls, no sideways scrolling', async () => {
    for (const width of [1280, 360]) {
      const page = await open(`${httpsUrl}/`, { width });
      await logIn(page, 'admin', ADMIN_PASSWORD);
      for (const [name, hash, title] of PAGES) {
        await page.goto(`${httpsUrl}/${hash}`);
        await heading(page, title).waitFor();
        await page.waitForLoadState('networkidle');
        await screenshot(page, `${name}-${width}px`);
        await assertUsable(page, name);
      }
      if (width === 1280) {
        await page.goto(`${httpsUrl}/#/events`);
        await page.getByLabel('Type').selectOption('login');
        // The filtered page replaces the unfiltered one when its request returns: wait for that.
        const onlyLogins = (types: string[]) => types.length > 0 && types.every((t) => t.startsWith('login'));
        const cells = () => page.locator('table tbody tr td:nth-child(2)').allTextContents();
        await waitUntil(async () => onlyLogins(await cells()));
        const types = await cells();
        assert.ok(onlyLogins(types), types.join(','));
      }
    }
  });

  it('over plain HTTP without WebCrypto (a device reached by IP address) the login still derives the key in the page', async () => {
    const page = await open(`${httpUrl}/`, {
      init: () => Object.defineProperty(window.crypto, 'subtle', { value: undefined }),
    });
    assert.equal(await page.evaluate(() => window.crypto.subtle), undefined);
    await page.getByText('This connection is not encrypted.').waitFor();
    await logIn(page, 'viewer1', VIEWER_PASSWORD);
    assert.deepEqual(await navLinks(page), ['Account', 'Dashboard']);
  });

  it('security: plain HTTP is switched to redirect over HTTPS (not over HTTP), and an HTTP visitor lands on HTTPS', async () => {
    const overHttp = await open(`${httpUrl}/`);
    await logIn(overHttp, 'admin', ADMIN_PASSWORD);
    await overHttp.goto(`${httpUrl}/#/security`);
    await overHttp.getByText('open this page over HTTPS to change this').waitFor();
    assert.equal(await overHttp.locator('select[name="http"]').isDisabled(), true);

    const page = await open(`${httpsUrl}/`);
    await logIn(page, 'admin', ADMIN_PASSWORD);
    await page.goto(`${httpsUrl}/#/security`);
    await page.locator('select[name="http"]').selectOption('redirect');
    await page.getByLabel('Host names of this device, one per line').fill('meter-17.plant.example');
    await page.getByRole('button', { name: 'Save security settings' }).click();
    await page.getByText('Saved.').waitFor();
    const settings = await page.evaluate(async () => (await fetch('/api/v1/security')).json());
    assert.equal(settings.http, 'redirect');
    assert.deepEqual(settings.hostnames, ['meter-17.plant.example']);
    await screenshot(page, 'security-http-redirect');
    try {
      const visitor = await open(`${httpUrl}/`);
      assert.ok(visitor.url().startsWith(`${httpsUrl}/`), visitor.url());
      await heading(visitor, 'Measurements').waitFor();
    } finally {
      await page.locator('select[name="http"]').selectOption('on');
      await page.getByRole('button', { name: 'Save security settings' }).click();
      await waitUntil(
        async () => (await page.evaluate(async () => (await fetch('/api/v1/security')).json())).http === 'on',
      );
    }
  });

  it('no typed password appears in any request the browsers sent', () => {
    const logins = sent.filter((r) => r.url.endsWith('/api/v1/auth/login') && r.body.includes('signature'));
    assert.ok(logins.length >= 8, `the recorder saw the logins (${logins.length})`);
    assert.ok(
      sent.some((r) => r.url.endsWith('/api/v1/users') && r.body.includes('"box"')),
      'and a sealed password',
    );
    const forms = (password: string) => {
      const utf8 = Buffer.from(password, 'utf8');
      return [
        password,
        password.normalize('NFD'),
        encodeURIComponent(password),
        JSON.stringify(password).slice(1, -1),
        utf8.toString('base64'),
        utf8.toString('base64url'),
        utf8.toString('hex'),
      ];
    };
    for (const password of TYPED) {
      for (const form of forms(password)) {
        for (const r of sent) {
          const where = `${r.url} ${JSON.stringify(r.headers)} ${r.body}`;
          assert.ok(!where.includes(form), `a request carries the password (${form}): ${r.url}`);
        }
      }
    }
  });
});
