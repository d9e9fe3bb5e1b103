/**
 * The Users page's Disable / Enable button against the device process in chromium: the row says
 * "(disabled)", the user's login is refused while it does, and Enable lets it in again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ClientError } from '../../../firmware/client/device-client.ts';
import { ADMIN_PASSWORD, startWebsite, type WebsiteFixture } from './website-fixture.ts';

const USER = 'field.eng';
const PASSWORD = 'Feeder-Bay-4471';

describe('Users page: disable and enable', () => {
  let site: WebsiteFixture;
  let slot: number;

  before(async () => {
    site = await startWebsite();
    const { admin } = site.rest;
    const created = await admin.request<{ slot: number }>('POST', '/api/v1/users', {
      type: 'user',
      name: USER,
      password: await admin.seal(USER, PASSWORD),
      role: 'ENGINEER',
    });
    assert.equal(created.status, 201);
    slot = created.body.slot;
  });
  after(() => site?.close());

  it('the button disables and enables the user; the row shows the state', async () => {
    const page = await site.open({ hash: '#/users', login: ['admin', ADMIN_PASSWORD] });
    const row = page.locator(`tr[data-slot="${slot}"]`);
    await row.getByRole('button', { name: 'Disable' }).click();
    await row.getByText('(disabled)').waitFor();
    await row.getByRole('button', { name: 'Enable' }).waitFor();
    await assert.rejects(site.rest.https().login(USER, PASSWORD), ClientError);

    await row.getByRole('button', { name: 'Enable' }).click();
    await row.getByRole('button', { name: 'Disable' }).waitFor();
    assert.equal(await row.getByText('(disabled)').count(), 0);
    await site.rest.https().login(USER, PASSWORD);
    // The admin has no such button: it cannot be disabled.
    assert.equal(await page.locator('tr[data-slot="0"]').getByRole('button', { name: 'Disable' }).count(), 0);
  });
});
