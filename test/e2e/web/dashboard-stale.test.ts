/**
 * The dashboard in chromium in front of an upstream meter (a pymodbus SDM630 over Modbus TCP): the
 * values the meter holds, then, while the meter does not answer, "No data" with since when and no
 * value at all (a dash in every cell), then the values again when it answers, all without a reload.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { launchChromium, screenshot, spkiPin, waitUntil } from '../../support/browser.ts';
import { startDevice } from '../../support/device-process.ts';
import { startPymodbusMeter } from '../../support/pymodbus-meter.ts';
import { heading } from './website-steps.ts';

describe('dashboard with an upstream meter, in chromium', () => {
  it('shows the meter’s values, "No data" and dashes while it does not answer, and the values again', async (t) => {
    const meter = await startPymodbusMeter(t, { layout: 'sdm630' });
    await meter.set('u1', 231.5);
    await meter.set('activeImportWh', 12_500);
    const dataDir = mkdtempSync(join(tmpdir(), 'metergate-web-stale-'));
    t.after(() => rmSync(dataDir, { recursive: true, force: true }));
    const device = await startDevice([
      '--data-dir',
      dataDir,
      '--meter',
      `modbus-tcp://127.0.0.1:${meter.port}?unit=1&profile=eastron-sdm630&interval=100ms&timeout=200ms&retries=0&stale-after=2`,
    ]);
    t.after(() => device.stop());
    const ca = readFileSync(join(dataDir, 'tls', 'cert.pem'), 'utf8');
    const browser = await launchChromium(spkiPin(ca));
    t.after(() => browser.close());
    const page = await browser.newPage();
    page.on('pageerror', (error) => assert.fail(`page error: ${error.message}`));
    await page.goto(`https://127.0.0.1:${device.ready.https}/`);
    await heading(page, 'Measurements').waitFor();

    const voltage = page.locator('[data-value="voltage.0"]');
    const notice = page.locator('[data-meter-state]');
    assert.ok(
      await waitUntil(async () => (await voltage.textContent()) === '231.5 V'),
      'U1 as the meter holds it',
    );
    assert.equal(await notice.count(), 0, 'no notice while the values are current');
    await page.evaluate(() => {
      (window as unknown as { notReloaded: boolean }).notReloaded = true;
    });

    assert.equal(await meter.command('mode silent'), 'ok');
    await notice.first().waitFor({ timeout: 15_000 });
    assert.match(
      (await notice.first().textContent()) ?? '',
      /^No data: the meter does not answer since .+ \(last read .+\)\.$/,
    );
    assert.equal(await notice.first().getAttribute('data-meter-state'), 'stale');
    assert.equal(await voltage.textContent(), '—', 'no stale value is shown');
    assert.equal(await page.locator('[data-value="frequency"]').textContent(), '—');
    assert.ok(await waitUntil(async () => (await notice.count()) === 2), 'the energy card says so too');
    await screenshot(page, 'dashboard-stale');

    assert.equal(await meter.command('mode normal'), 'ok');
    assert.ok(
      await waitUntil(async () => (await voltage.textContent()) === '231.5 V', 15_000),
      'values again',
    );
    assert.ok(await waitUntil(async () => (await notice.count()) === 0), 'the notice goes');
    assert.equal(
      await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded),
      true,
    );
  });
});
