/**
 * How the website shows values (issue 16, the rest of defect 10), in chromium against the device
 * process: energies in kWh (MWh, GWh by magnitude) with three decimals, never Wh with decimals; a
 * certificate fingerprint that wraps on a phone only between bytes; and a device that stops answering
 * (the process stopped with SIGSTOP, so requests hang rather than fail) marks every card of the
 * dashboard as not updating, until it answers again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { screenshot, waitUntil } from '../../support/browser.ts';
import { ADMIN_PASSWORD, startWebsite, type WebsiteFixture } from './website-fixture.ts';
import { heading } from './website-steps.ts';

describe('values and offline state in chromium', () => {
  let site: WebsiteFixture;
  const admin = ['admin', ADMIN_PASSWORD] as [string, string];

  before(async () => {
    site = await startWebsite();
  });
  after(async () => {
    site?.rest.device.process.kill('SIGCONT');
    await site?.close();
  });

  it('energies are in kWh with three decimals right after a reset (not "0.004 Wh")', async () => {
    const reset = await site.rest.admin.request('POST', '/api/v1/meters/reset');
    assert.ok(reset.status < 300, JSON.stringify(reset.body));
    const page = await site.open({ hash: '#/', login: admin });
    const card = page.locator('section', { has: heading(page, 'Energy meters') });
    await card.getByText('Active energy import', { exact: true }).waitFor();
    const values = await card.locator('dd').allTextContents();
    const energies = values.slice(0, 4);
    for (const [i, value] of energies.entries()) {
      const unit = i < 2 ? 'kWh' : 'kvarh';
      assert.match(value, new RegExp(`^-?\\d+\\.\\d{3} ${unit}$`), `energy ${i}: '${value}'`);
    }
  });

  it('a certificate fingerprint wraps at 360 px only between bytes', async () => {
    const page = await site.open({ width: 360, hash: '#/certificates', login: admin });
    const fingerprint = page.locator('.fingerprint').first();
    await fingerprint.waitFor();
    const tls = await site.rest.admin.request<{ fingerprint256: string }>('GET', '/api/v1/tls');
    assert.equal(await fingerprint.textContent(), tls.body.fingerprint256, 'the whole fingerprint');
    const boxes = (await page.evaluate(
      `[...document.querySelector('.fingerprint').children].map((b) => [b.textContent, b.getClientRects().length, Math.round(b.getBoundingClientRect().top)])`,
    )) as [string, number, number][];
    assert.equal(boxes.length, 32, 'one box per byte');
    for (const [text, rects] of boxes) {
      assert.match(text, /^[0-9A-F]{2}:?$/);
      assert.equal(rects, 1, `${text} is not broken`);
    }
    const lines = new Set(boxes.map(([, , top]) => top));
    assert.ok(lines.size > 1, `it does wrap at 360 px (${lines.size} line)`);
    await screenshot(page, 'certificates-fingerprint-360');
  });

  it('a device that stops answering marks every dashboard card as not updating, and the marks go when it answers', async () => {
    const page = await site.open({ hash: '#/', login: admin });
    await heading(page, 'Min/max values').waitFor();
    await heading(page, 'Energy meters').waitFor();
    const cards = page.locator('main section.card');
    const marks = page.locator('main [data-not-updating]');
    const cardCount = await cards.count();
    assert.ok(cardCount >= 3, `measurements, energy, min/max: ${cardCount}`);
    assert.equal(await marks.count(), 0);

    assert.ok(site.rest.device.process.kill('SIGSTOP'));
    try {
      assert.ok(
        await waitUntil(async () => (await marks.count()) === cardCount, 30_000),
        `every card marked: ${await marks.count()} of ${cardCount}`,
      );
      for (const card of await cards.all()) {
        assert.equal(
          await card.locator('[data-not-updating]').count(),
          1,
          String(await card.locator('h2').textContent()),
        );
      }
      assert.match((await marks.first().textContent()) ?? '', /^Not updating: The meter did not answer/);
      await screenshot(page, 'dashboard-offline');
    } finally {
      site.rest.device.process.kill('SIGCONT');
    }
    assert.ok(await waitUntil(async () => (await marks.count()) === 0, 30_000), 'the marks go');
  });

  it('a page whose first questions go unanswered comes up by itself once the device answers (no Retry click)', async () => {
    const context = await site.browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    page.on('pageerror', (error) => assert.fail(`page error: ${error.message}`));
    // The site's files load; its API calls fail as on a link that drops them (a meter restarting).
    const refuse = (route: { abort(): Promise<void> }) => route.abort();
    await page.route('**/api/v1/**', refuse);
    try {
      await page.goto(`${site.rest.httpsUrl}/`);
      await page.getByText('The meter did not answer').waitFor({ timeout: 30_000 });
    } finally {
      await page.unroute('**/api/v1/**', refuse);
    }
    await page.getByRole('banner').getByRole('link', { name: 'Log in' }).waitFor({ timeout: 30_000 });
    await heading(page, 'Dashboard').waitFor();
    await context.close();
  });
});
