/**
 * The website's Firmware page in chromium over HTTPS, against the device process started as the update
 * launcher starts it (a temp A/B layout): the administrator sees the running version, a bundle signed
 * by a foreign key is refused with the device's reason, a vendor bundle chosen with "at the next
 * restart" is accepted and shows as pending. Usable at phone width.
 */
import assert from 'node:assert/strict';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fakeBundle, type Layout, newLayout, STRANGER_KEY } from '../../support/update-fixture.ts';
import { ADMIN_PASSWORD, startWebsite, type WebsiteFixture } from './website-fixture.ts';
import { assertUsable, heading } from './website-steps.ts';

describe('Firmware page in chromium', () => {
  let layout: Layout;
  let site: WebsiteFixture;

  before(async () => {
    layout = newLayout();
    site = await startWebsite(['--firmware-dir', layout.firmware, '--update-spool', layout.spool]);
  });
  after(async () => {
    await site?.close();
    rmSync(layout.root, { recursive: true, force: true });
  });

  it('shows the running version, refuses a foreign bundle with the reason, keeps a vendor bundle for the restart', async () => {
    const page = await site.open({ width: 390, hash: '#/firmware', login: ['admin', ADMIN_PASSWORD] });
    await heading(page, 'Firmware').waitFor();
    await page.getByText('1.0.0 (slot a, installed from a checkout)').waitFor();
    await assertUsable(page, 'Firmware page');

    const foreign = join(layout.root, 'foreign.mgb');
    writeFileSync(foreign, fakeBundle('1.1.0', { key: STRANGER_KEY.secretKey }));
    await page.getByLabel('Update bundle').setInputFiles(foreign);
    await page.getByRole('button', { name: 'Upload update' }).click();
    await page.getByText(/which this device does not trust/).waitFor();
    assert.ok(!existsSync(join(layout.spool, 'pending.mgb')), 'a refused bundle is not kept');

    const vendor = join(layout.root, 'vendor.mgb');
    writeFileSync(vendor, fakeBundle('1.1.0'));
    await page.getByLabel('Update bundle').setInputFiles(vendor);
    await page.getByLabel('Install at the next restart, not now').check();
    await page.getByRole('button', { name: 'Upload update' }).click();
    await page.getByText('Accepted: it is installed at the next restart.').waitFor();
    await page.getByText('a bundle waits for the next restart').waitFor();
    assert.ok(existsSync(join(layout.spool, 'pending.mgb')));
  });
});
