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

  it('header: the serial number has at least 4.5:1 contrast on the dark header (1280 px)', async () => {
    const page = await site.open({ width: 1280 });
    const serial = page.locator('header .muted');
    await serial.waitFor();
    const ratio = (await serial.evaluate(`(() => {
      const el = document.querySelector('header .muted');
      const lum = (c) => {
        const [r, g, b] = c.match(/[\\d.]+/g).slice(0, 3).map((v) => {
          const s = Number(v) / 255;
          return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
        });
        return 0.2126 * r + 0.7152 * g + 0.0722 * b;
      };
      const a = lum(getComputedStyle(el).color);
      const b = lum(getComputedStyle(document.querySelector('header')).backgroundColor);
      return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    })()`)) as number;
    assert.ok(ratio >= 4.5, `contrast ${ratio.toFixed(2)}:1`);
  });
});
