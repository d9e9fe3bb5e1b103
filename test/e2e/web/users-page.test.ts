/**
 * The users page as a product (issue 16, defect 6), in chromium at 1280 px and at 360 px: no element
 * is wider than the screen, the Actions column is on it, permissions read as the permission table's
 * labels (never its identifiers), and a user is added and edited end to end through the dialog, whose
 * focus stays inside, which Escape closes and which gives the focus back to the button that opened it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { screenshot } from '../../support/browser.ts';
import type { SlotView } from '../../support/rest-fixture.ts';
import { ADMIN_PASSWORD, startWebsite, type WebsiteFixture } from './website-fixture.ts';

interface PermissionTable {
  permissions: { name: string; label: string }[];
}

const PASSWORD = 'Tq7!vLm2#Zr9-wide';

/**
 * Elements reaching past the right edge of the viewport (a clipped or sideways-scrolling page); the
 * header's row of page links scrolls sideways on a phone by design (dashboard-phone.test.ts).
 */
const TOO_WIDE = `[...document.querySelectorAll('body *')]
  .filter((e) => !e.closest('nav') && e.getClientRects().length && e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
  .map((e) => e.tagName.toLowerCase() + (e.className ? '.' + e.className : '') + ' ' + Math.round(e.getBoundingClientRect().right))`;

/** Whether the focused element is inside the open dialog (the body: the browser's own controls). */
const FOCUS_IN_DIALOG = `(() => {
  const at = document.activeElement;
  return at === document.body || !!at?.closest('dialog[open]');
})()`;

describe('users page in chromium', () => {
  let site: WebsiteFixture;
  let table: PermissionTable;
  const slots = async () =>
    (await site.rest.admin.request<{ slots: SlotView[] }>('GET', '/api/v1/users')).body.slots;

  before(async () => {
    site = await startWebsite();
    table = (await site.rest.admin.request<PermissionTable>('GET', '/api/v1/permissions')).body;
  });
  after(() => site?.close());

  for (const [width, name] of [
    [1280, 'wide.user'],
    [360, 'phone.user'],
  ] as const) {
    it(`${width} px: nothing wider than the screen, Actions visible, labels not identifiers, add and edit through the dialog`, async () => {
      const page = await site.open({ width, hash: '#/users', login: ['admin', ADMIN_PASSWORD] });
      const anonymous = page.locator('tr[data-slot="2"]');
      await anonymous.waitFor();
      assert.deepEqual(await page.evaluate(TOO_WIDE), [], 'no element wider than the viewport');

      const label = (permission: string) => table.permissions.find((p) => p.name === permission)?.label;
      const anonymousRights = (await slots()).find((s) => s.slot === 2)?.permissions ?? [];
      assert.deepEqual(
        await anonymous.locator('.chips li').allTextContents(),
        anonymousRights.map(label),
        'the chips are the labels of the permission table',
      );
      const cells = (await page.locator('td.perms').allTextContents()).join(' ');
      for (const p of table.permissions) assert.ok(!cells.includes(p.name), `no identifier ${p.name} shown`);

      const edit = anonymous.getByRole('button', { name: 'Permissions' });
      const box = await edit.boundingBox();
      assert.ok(
        box && box.x >= 0 && box.x + box.width <= width,
        `Actions on the screen: ${JSON.stringify(box)}`,
      );
      // On a phone each row is a block with its labels in front, and no header row.
      if (width > 640) assert.equal(await page.getByRole('columnheader', { name: 'Actions' }).count(), 1);

      // Add a user through the dialog.
      const addButton = page.getByRole('button', { name: 'Add a user or API key' });
      await addButton.click();
      const dialog = page.getByRole('dialog', { name: 'Add a user or API key' });
      await dialog.waitFor();
      assert.deepEqual(await page.evaluate(TOO_WIDE), [], 'the dialog fits the screen');
      await dialog.getByLabel('Name').fill(name);
      await dialog.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await dialog.getByLabel('Repeat the password').fill(PASSWORD);
      for (const box of await dialog.getByRole('checkbox').all()) {
        const wanted = (await box.getAttribute('data-permission-name')) === 'meters.read';
        if (wanted !== (await box.isChecked())) await box.click();
      }
      await screenshot(page, `users-add-dialog-${width}`);
      await dialog.getByRole('button', { name: 'Add user' }).click();
      await dialog.waitFor({ state: 'detached', timeout: 20_000 });
      const row = page.locator('tr', { hasText: name });
      await row.waitFor();
      assert.equal(await addButton.evaluate((b) => b === document.activeElement), true, 'focus on Add again');
      const added = (await slots()).find((s) => s.name === name);
      assert.deepEqual(added?.permissions, ['meters.read']);
      assert.deepEqual(await row.locator('.chips li').allTextContents(), [label('meters.read')]);

      // Edit it: the focus stays in the dialog, Escape closes it, the focus returns to Edit.
      const editButton = row.getByRole('button', { name: 'Edit' });
      await editButton.click();
      const editor = page.getByRole('dialog', { name: `Edit ${name}` });
      await editor.waitFor();
      for (let i = 0; i < 25; i++) {
        await page.keyboard.press('Tab');
        assert.equal(await page.evaluate(FOCUS_IN_DIALOG), true, `Tab ${i + 1}: focus inside the dialog`);
      }
      await page.keyboard.press('Escape');
      await editor.waitFor({ state: 'detached' });
      assert.equal(
        await editButton.evaluate((b) => b === document.activeElement),
        true,
        'focus back on Edit',
      );
      assert.deepEqual(
        (await slots()).find((s) => s.name === name)?.permissions,
        ['meters.read'],
        'nothing sent',
      );

      await editButton.click();
      await editor.waitFor();
      await editor.locator('[data-permission-name="config.read"]').check();
      await screenshot(page, `users-edit-dialog-${width}`);
      await editor.getByRole('button', { name: 'Save' }).click();
      await editor.waitFor({ state: 'detached', timeout: 20_000 });
      await row.locator('.chips li', { hasText: label('config.read') }).waitFor();
      assert.deepEqual((await slots()).find((s) => s.name === name)?.permissions, [
        'meters.read',
        'config.read',
      ]);
      assert.deepEqual(await page.evaluate(TOO_WIDE), [], 'still nothing wider than the viewport');
      await screenshot(page, `users-${width}`);
    });
  }
});
