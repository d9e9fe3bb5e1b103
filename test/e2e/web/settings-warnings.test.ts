/**
 * The settings page warns before it weakens the device (issue 16, defect 9 and part of 10), in
 * chromium against the device process: choosing a Modbus principal with any permission that writes
 * (admin) says that every unauthenticated master gets those rights and waits for a confirmation
 * (Cancel focused; Cancel leaves the device as it was, checked through REST; confirming and saving
 * stores it), and Modbus/TCP Security switched on without a client CA says it accepts no client.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { screenshot } from '../../support/browser.ts';
import { ADMIN_PASSWORD, startWebsite, type WebsiteFixture } from './website-fixture.ts';

interface Config {
  communication: { modbusSlot: number; modbusTls: boolean };
}

describe('settings warnings in chromium', () => {
  let site: WebsiteFixture;
  const admin = ['admin', ADMIN_PASSWORD] as [string, string];
  const modbusSlot = async () =>
    (await site.rest.admin.request<Config>('GET', '/api/v1/config')).body.communication.modbusSlot;

  before(async () => {
    site = await startWebsite();
  });
  after(() => site?.close());

  it('choosing admin as Modbus principal warns and needs a confirmation; Cancel changes nothing', async () => {
    const page = await site.open({ hash: '#/settings', login: admin });
    const select = page.getByLabel('Modbus TCP principal');
    await select.waitFor();
    assert.equal(await modbusSlot(), 2, 'anonymous at first');
    const offered = await select.locator('option').allTextContents();
    assert.ok(!offered.some((o) => o.includes('localgui')), `localgui is not offered: ${offered}`);

    await select.selectOption('0');
    const warning = page.getByRole('alertdialog');
    await warning.waitFor();
    const question = (await warning.getAttribute('aria-label')) ?? '';
    assert.match(question, /every Modbus master .* act as admin/);
    assert.match(question, /Change security/, 'names the rights that write, by their labels');
    assert.match(question, /unauthenticated/);
    const focused = await page.evaluate('document.activeElement?.textContent');
    assert.equal(focused, 'Cancel', 'the focus is on Cancel');
    await screenshot(page, 'settings-principal-warning');
    await page.keyboard.press('Enter');
    await warning.waitFor({ state: 'detached' });
    assert.equal(await select.inputValue(), '2', 'the choice is undone');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByRole('status').waitFor();
    assert.equal(await modbusSlot(), 2, 'the device still has anonymous');

    await select.selectOption('0');
    await warning.getByRole('button', { name: 'Yes, give these rights' }).click();
    assert.equal(await select.inputValue(), '0');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByRole('status').getByText('Saved.').waitFor();
    assert.equal(await modbusSlot(), 0, 'confirmed and saved: admin');

    // A principal without any right that writes goes through without a question.
    await select.selectOption('2');
    assert.equal(await page.getByRole('alertdialog').count(), 0);
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByRole('status').getByText('Saved.').waitFor();
    assert.equal(await modbusSlot(), 2);
  });

  it('Modbus/TCP Security switched on without a client CA warns that it accepts no client', async () => {
    const ca = await site.rest.admin.request<{ ca: unknown }>('GET', '/api/v1/modbus/ca');
    assert.equal(ca.body.ca, null, 'no CA installed');
    const page = await site.open({ hash: '#/settings', login: admin });
    const tls = page.getByLabel('Modbus/TCP Security (TLS)');
    await tls.waitFor();
    const note = page.getByRole('note').filter({ hasText: 'No client CA is installed' });
    if (await tls.isChecked()) await tls.uncheck();
    assert.equal(await note.count(), 0, 'no warning while it is off');
    await tls.check();
    await note.waitFor();
    assert.match((await note.textContent()) ?? '', /accepts no client/);
  });
});
