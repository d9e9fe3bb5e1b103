/**
 * The dashboard on a 390 px phone in chromium (issue 16 item 8): every L3 and Total cell lies inside
 * the viewport and inside its table's visible box (no horizontal cut, no scrolling needed), and the
 * header takes at most an eighth of the screen height.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { screenshot } from '../../support/browser.ts';
import { ADMIN_PASSWORD, startWebsite, type WebsiteFixture } from './website-fixture.ts';
import { heading } from './website-steps.ts';

describe('dashboard at 390 px, in chromium', () => {
  let site: WebsiteFixture;
  before(async () => {
    site = await startWebsite();
  });
  after(() => site.close());

  it('shows L3 and Total without a horizontal cut, under a compact header', async () => {
    const page = await site.open({ width: 390, login: ['admin', ADMIN_PASSWORD] });
    await heading(page, 'Measurements').waitFor();
    await page.locator('[data-value="voltage.2"]').waitFor();
    const cells = page.locator('[data-value$=".2"], [data-value^="total."]');
    assert.ok((await cells.count()) > 4, 'L3 and Total cells are there');
    const cut = (await page.evaluate(`(() => {
      const found = [];
      for (const cell of document.querySelectorAll('[data-value$=".2"], [data-value^="total."]')) {
        const box = cell.getBoundingClientRect();
        const clip = cell.closest('.scroll').getBoundingClientRect();
        const right = Math.min(window.innerWidth, clip.right);
        if (box.right > right + 0.5) found.push(cell.getAttribute('data-value') + ' ends at ' + Math.round(box.right) + ' of ' + Math.round(right));
      }
      return found;
    })()`)) as string[];
    assert.deepEqual(cut, [], 'every L3 and Total value visible');
    await screenshot(page, 'dashboard-390');
    const header = await page.locator('header').boundingBox();
    const nav = await page.getByRole('navigation').boundingBox();
    assert.ok(nav && nav.height > 20 && nav.width > 300, 'the menu is still there');
    const height = page.viewportSize()?.height ?? 0;
    assert.ok(header && header.height <= height / 8, `header ${header?.height} px of ${height} px`);
  });
});
