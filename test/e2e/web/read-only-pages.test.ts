/**
 * Read-only pages in chromium (issue 16 item 7): a user with config.read and security.read but no
 * write right sees the settings and security pages with every value as readable as an editable one
 * (no opacity on the fieldset or a control, text contrast at least 4.5:1) and the reason they are
 * read-only.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startWebsite, type WebsiteFixture } from './website-fixture.ts';
import { heading } from './website-steps.ts';

const READER: [string, string] = ['reader', 'Lese-Recht 2026!x'];

describe('read-only pages, in chromium', () => {
  let site: WebsiteFixture;
  before(async () => {
    site = await startWebsite();
    const r = await site.rest.admin.request('POST', '/api/v1/users', {
      type: 'user',
      name: READER[0],
      password: await site.rest.admin.seal(READER[0], READER[1]),
      permissions: ['measurements.read', 'meters.read', 'config.read', 'security.read'],
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
  });
  after(() => site.close());

  for (const [hash, title, reason] of [
    ['#/settings', 'Settings', /Read only: changing settings needs config\.write/],
    ['#/security', 'Security', /Read only: changing security settings needs security\.write/],
  ] as const) {
    it(`${title}: read-only values are fully opaque with AA contrast, and say why`, async () => {
      const page = await site.open({ hash, login: READER });
      await heading(page, title).waitFor();
      await page.getByText(reason).waitFor();
      // A string, not a function: tsx would add helpers (__name) the page does not have.
      const faint = (await page.evaluate(`(() => {
        const rgb = (c) => (c.match(/[\\d.]+/g) ?? []).slice(0, 3).map(Number);
        const lum = (c) => {
          const [r, g, b] = rgb(c).map((v) => {
            const s = v / 255;
            return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
          });
          return 0.2126 * r + 0.7152 * g + 0.0722 * b;
        };
        const found = [];
        for (const el of document.querySelectorAll('fieldset, input, select, textarea')) {
          let opacity = 1;
          for (let e = el; e; e = e.parentElement) opacity *= Number(getComputedStyle(e).opacity);
          const style = getComputedStyle(el);
          const l1 = lum(style.webkitTextFillColor || style.color);
          const l2 = lum(style.backgroundColor.startsWith('rgba(0, 0, 0, 0)') ? 'rgb(255,255,255)' : style.backgroundColor);
          const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
          const name = \`\${el.tagName.toLowerCase()}\${el.id ? \`#\${el.id}\` : ''}\`;
          if (opacity < 1) found.push(\`\${name} opacity \${opacity.toFixed(2)}\`);
          if (el.tagName !== 'FIELDSET' && !(ratio >= 4.5)) found.push(\`\${name} contrast \${ratio.toFixed(2)}\`);
        }
        return found;
      })()`)) as string[];
      assert.deepEqual(faint, [], 'every read-only value as readable as an editable one');
      const disabled = await page.locator('input:disabled, select:disabled, textarea:disabled').count();
      assert.ok(disabled > 0, 'the page is read-only for this user');
    });
  }
});
