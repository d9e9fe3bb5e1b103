/**
 * Every error the API gives a form, in words next to its field (issue 16, defect 5 and the smaller
 * items of 10): the device's schema refusals (too small, too big, not a number, too many entries)
 * become sentences, a refused whitelist entry (`whitelist[2]`) and a too long whitelist are shown at
 * the whitelist, saving unchanged settings says so and sends nothing, and the "slots in use" refusal
 * goes once a slot is free again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import { screenshot } from '../../support/browser.ts';
import { ADMIN_PASSWORD, startWebsite, type WebsiteFixture } from './website-fixture.ts';

/** The words of a schema library's message, which no person should have to read. */
const CODE_LIKE = /expected|received|Too (small|big)|Invalid (input|option)|>=|<=|\w+\.\w+:|\[\d+\]/;

const text = async (locator: Locator) => ((await locator.textContent()) ?? '').trim();

/** The error shown in the field that holds `control`; fails when the error is anywhere else. */
async function errorAt(page: Page, control: Locator): Promise<string> {
  const field = page.locator('.field', { has: control });
  await field.getByRole('alert').waitFor();
  const message = await text(field.getByRole('alert'));
  assert.doesNotMatch(message, CODE_LIKE, `a sentence, not '${message}'`);
  return message;
}

describe('form errors in words, next to their field, in chromium', () => {
  let site: WebsiteFixture;
  const admin = ['admin', ADMIN_PASSWORD] as [string, string];

  before(async () => {
    site = await startWebsite();
  });
  after(() => site?.close());

  it('settings: out of range and empty numbers are explained in words at their field', async () => {
    const page = await site.open({ hash: '#/settings', login: admin });
    const save = page.getByRole('button', { name: 'Save settings' });
    const vt = page.getByLabel('VT ratio');
    await vt.fill('0');
    await save.click();
    assert.equal(await errorAt(page, vt), 'Enter 1 or more.');
    await vt.fill('20000');
    await save.click();
    await page.locator('.field', { has: vt }).getByText('Enter 10000 or less.').waitFor();
    await vt.fill('');
    await save.click();
    await page.locator('.field', { has: vt }).getByText('Enter a number.').waitFor();
    await screenshot(page, 'settings-error-in-words');
  });

  it('settings and security: saving without a change says so and sends nothing', async () => {
    for (const [hash, button] of [
      ['#/settings', 'Save settings'],
      ['#/security', 'Save security settings'],
    ]) {
      const page = await site.open({ hash, login: admin });
      const save = page.getByRole('button', { name: button });
      await save.waitFor();
      await page.waitForLoadState('networkidle');
      const changes: string[] = [];
      page.on('request', (r) => {
        if (r.method() !== 'GET') changes.push(`${r.method()} ${r.url()}`);
      });
      await save.click();
      await page.getByRole('status').getByText('Nothing to save: no setting was changed.').waitFor();
      await page.waitForLoadState('networkidle');
      assert.deepEqual(changes, [], `${hash}: no request that changes anything`);
    }
  });

  it('security: a refused whitelist entry and too many entries are shown at the whitelist', async () => {
    const page = await site.open({ hash: '#/security', login: admin });
    const whitelist = page.getByLabel('Allowed client addresses, one per line');
    const save = page.getByRole('button', { name: 'Save security settings' });
    await whitelist.fill('127.0.0.1\n192.0.2.0/24\nnot-an-address');
    await save.click();
    assert.match(await errorAt(page, whitelist), /^'not-an-address' is not an IP address or network/);
    await whitelist.fill(Array.from({ length: 17 }, (_, i) => `192.0.2.${i + 1}`).join('\n'));
    await save.click();
    await page.locator('.field', { has: whitelist }).getByText('Too many entries: at most 16.').waitFor();
    const stored = await site.rest.admin.request<{ whitelist: string[] }>('GET', '/api/v1/security');
    assert.deepEqual(stored.body.whitelist, [], 'nothing of it stored');
  });

  it('users: the "slots in use" refusal is said in the dialog, and nothing of it stands once a slot is free', async () => {
    const page = await site.open({ hash: '#/users', login: admin });
    await page.locator('[data-slot="7"]', { hasText: 'Free' }).waitFor();
    // Another client takes every free slot after the page loaded: the device refuses the add.
    for (let i = 0; i < 5; i++) {
      const r = await site.rest.admin.request('POST', '/api/v1/users', {
        type: 'api-key',
        name: `key${i}`,
        preset: 'read-only',
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
    }
    const open = page.getByRole('button', { name: 'Add a user or API key' });
    await open.click();
    const add = page.getByRole('form', { name: 'Add user or API key' });
    await add.getByLabel('Type').selectOption('api-key');
    await add.getByLabel('Name').fill('key9');
    await add.getByRole('button', { name: 'Create API key' }).click();
    const refusal = page.getByRole('dialog').getByText(/slots are in use/);
    await refusal.waitFor();
    assert.doesNotMatch(await text(refusal), CODE_LIKE);
    await page.keyboard.press('Escape');
    // Closing asks the device again: the page says why adding is not possible now.
    const full = page.getByText(/slots are in use/);
    await page.getByText(/^All slots are in use/).waitFor();
    assert.equal(await open.isDisabled(), true);
    await page.locator('[data-slot="7"]').getByRole('button', { name: 'Revoke' }).click();
    await page
      .getByRole('alertdialog')
      .getByRole('button', { name: /^Yes|Revoke/ })
      .click();
    await page.locator('[data-slot="7"]', { hasText: 'Free' }).waitFor();
    assert.equal(await full.count(), 0, 'no "slots in use" stands any more');
    await open.click();
    await page.getByRole('form', { name: 'Add user or API key' }).waitFor();
    assert.equal(await page.getByRole('dialog').getByRole('alert').count(), 0, 'the dialog starts afresh');
  });
});
