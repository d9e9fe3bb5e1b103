/**
 * The Backup page against the device process in chromium: a backup is downloaded as a file of the
 * backup format; restoring it with a wrong passphrase is refused next to the field and changes
 * nothing; with the right one the device restores it (a new commit: the anti-rollback counter moves)
 * and the page is logged out, like every other session.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ADMIN_PASSWORD, startWebsite, type WebsiteFixture } from './website-fixture.ts';
import { assertUsable } from './website-steps.ts';

const PASSPHRASE = 'Spare meter in cabinet B';

describe('Backup page', () => {
  let site: WebsiteFixture;
  const counter = () => Number(readFileSync(join(site.rest.dataDir, 'keys', 'rollback.counter'), 'ascii'));

  before(async () => {
    site = await startWebsite();
  });
  after(() => site?.close());

  it('downloads a backup, refuses a wrong passphrase, restores with the right one and logs out', async () => {
    const page = await site.open({ hash: '#/backup', login: ['admin', ADMIN_PASSWORD] });
    const make = page.getByRole('form', { name: 'Make a backup' });
    await make.getByLabel('Passphrase', { exact: true }).fill('too short');
    await make.getByLabel('Repeat the passphrase').fill('too short');
    await make.getByRole('button', { name: 'Download backup' }).click();
    await make.getByRole('alert').getByText('Enter at least 12 characters.').waitFor();

    await make.getByLabel('Passphrase', { exact: true }).fill(PASSPHRASE);
    await make.getByLabel('Repeat the passphrase').fill(PASSPHRASE);
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      make.getByRole('button', { name: 'Download backup' }).click(),
    ]);
    assert.match(download.suggestedFilename(), /\.mgbackup$/);
    const file = join(site.rest.dataDir, download.suggestedFilename());
    await download.saveAs(file);
    assert.equal(readFileSync(file).subarray(0, 16).toString('ascii'), 'metergate-backup');
    await assertUsable(page, 'backup page');

    const restore = page.getByRole('form', { name: 'Restore a backup' });
    await restore.getByLabel('Backup file').setInputFiles(file);
    const before = counter();
    await restore.getByLabel('Passphrase').fill(`${PASSPHRASE}?`);
    await restore.getByRole('button', { name: 'Restore backup' }).click();
    await restore.getByText(/passphrase does not open this backup/).waitFor();
    assert.equal(counter(), before, 'a refused restore changed nothing');

    await restore.getByLabel('Passphrase').fill(PASSPHRASE);
    await restore.getByRole('button', { name: 'Restore backup' }).click();
    await page.getByRole('banner').getByRole('link', { name: 'Log in' }).waitFor();
    assert.ok(counter() > before, 'the restore was a new commit');
  });
});
