/**
 * The device status page in chromium and the route behind it: `GET /api/v1/status` (config.read) gives
 * firmware, uptime, bound ports, certificate validity and store health; anonymous gets neither the
 * status nor the start time or uptime anywhere public (`info`); the page, linked from the footer for
 * those who may use it, shows what the device reports.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { screenshot } from '../../support/browser.ts';
import { ADMIN_PASSWORD, startWebsite, type WebsiteFixture } from './website-fixture.ts';
import { heading } from './website-steps.ts';

interface Status {
  firmwareVersion: string;
  startedAt: string;
  uptimeSeconds: number;
  ports: { http: number | null; https: number | null; modbusTcp: number | null; modbusTls: number | null };
  certificate: { validTo: string; fingerprint256: string; daysLeft: number; state: string };
  store: { state: string; configuration: string; eventLog: string; degraded: string[] };
}

describe('device status, in chromium', () => {
  let site: WebsiteFixture;
  const startedBefore = Date.now();
  before(async () => {
    site = await startWebsite();
  });
  after(() => site.close());

  it('keeps uptime and start time from anonymous: status needs config.read, info has neither', async () => {
    const anonymous = site.rest.http();
    const status = await anonymous.request<{ error: { code: string; permission: string } }>(
      'GET',
      '/api/v1/status',
    );
    assert.equal(status.status, 401);
    assert.equal(status.body.error.permission, 'config.read');
    const info = await anonymous.request('GET', '/api/v1/info');
    assert.equal(info.status, 200);
    assert.doesNotMatch(JSON.stringify(info.body), /started|uptime|boot/i);

    const page = await site.open();
    await heading(page, 'Dashboard').waitFor();
    assert.equal(await page.locator('footer a', { hasText: 'Device status' }).count(), 0, 'no footer link');
    await page.goto(`${site.rest.httpsUrl}/#/status`);
    await page.getByText('Log in to see more of this meter.').waitFor();
  });

  it('reports what the device runs: firmware, uptime, ports, certificate, store', async () => {
    const answer = await site.rest.admin.request<Status>('GET', '/api/v1/status');
    assert.equal(answer.status, 200);
    const status = answer.body;
    const { ready } = site.rest.device;
    assert.deepEqual(status.ports, {
      http: ready.http,
      https: ready.https,
      modbusTcp: ready.modbusTcp,
      modbusTls: ready.modbusTls,
    });
    const started = Date.parse(status.startedAt);
    assert.ok(started >= startedBefore - 1000 && started <= Date.now(), `started ${status.startedAt}`);
    assert.ok(status.uptimeSeconds >= 0 && status.uptimeSeconds <= (Date.now() - startedBefore) / 1000 + 1);
    const tls = await site.rest.admin.request<{ validTo: string; fingerprint256: string }>(
      'GET',
      '/api/v1/tls',
    );
    assert.equal(status.certificate.validTo, tls.body.validTo);
    assert.equal(status.certificate.fingerprint256, tls.body.fingerprint256);
    assert.equal(status.certificate.state, 'valid');
    assert.deepEqual(status.store, { state: 'ok', configuration: 'default', eventLog: 'ok', degraded: [] });
  });

  it('shows it on #/status, linked from the footer', async () => {
    const page = await site.open({ login: ['admin', ADMIN_PASSWORD] });
    await page.locator('footer').getByRole('link', { name: 'Device status' }).click();
    await heading(page, 'Device status').waitFor();
    assert.equal(await page.locator('nav a', { hasText: 'Device status' }).count(), 0, 'not in the menu');
    const status = (await site.rest.admin.request<Status>('GET', '/api/v1/status')).body;
    const main = page.locator('main');
    await main.getByText(status.firmwareVersion, { exact: true }).waitFor();
    await main.getByText(String(site.rest.device.ready.https), { exact: true }).waitFor();
    await main.getByText(String(site.rest.device.ready.http), { exact: true }).waitFor();
    assert.match((await page.locator('[data-status="uptime"]').textContent()) ?? '', /^\d+ (s|min)/);
    assert.equal(
      await page.locator('[data-status="certificate"]').textContent(),
      `valid: ${status.certificate.daysLeft} days left`,
    );
    assert.equal(await page.locator('[data-status="store"]').textContent(), 'healthy');
    await main.getByText(status.certificate.fingerprint256).waitFor();
    await screenshot(page, 'status');
  });
});
