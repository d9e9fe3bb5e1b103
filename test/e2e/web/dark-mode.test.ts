/**
 * Dark mode in chromium: with the system set to dark (`colorScheme: 'dark'`) the website turns dark,
 * and in both schemes body text, grey text, links and buttons, form fields, the header and the trend
 * lines keep WCAG AA contrast against what is behind them (4.5:1 for text, 3:1 for the chart lines),
 * computed from the colours chromium actually renders.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { screenshot } from '../../support/browser.ts';
import { startWebsite, type WebsiteFixture } from './website-fixture.ts';
import { heading } from './website-steps.ts';

/**
 * For each [label, selector, minimum] the contrast of the first match's text (or, for an SVG path,
 * its stroke) against the first opaque background of it or an ancestor; also the page's background
 * luminance. A page string: arrow functions passed to evaluate do not survive tsx.
 */
const MEASURE = `((checks) => {
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = (c) => {
    const [r, g, b] = rgb(c).slice(0, 3).map((v) => {
      const s = v / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const opaque = (c) => { const v = rgb(c); return v.length === 3 || v[3] === 1; };
  const backdrop = (el) => {
    for (let at = el; at; at = at.parentElement) {
      const bg = getComputedStyle(at).backgroundColor;
      if (opaque(bg)) return bg;
    }
    return 'rgb(255, 255, 255)';
  };
  const found = checks.map(([label, selector, minimum]) => {
    const el = document.querySelector(selector);
    if (!el) return { label, ratio: null, minimum };
    const style = getComputedStyle(el);
    const fg = el instanceof SVGPathElement ? style.stroke : (style.webkitTextFillColor || style.color);
    const a = lum(fg);
    const b = lum(backdrop(el));
    return { label, fg, bg: backdrop(el), ratio: (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05), minimum };
  });
  return { found, page: lum(getComputedStyle(document.documentElement).backgroundColor) };
})`;

const DASHBOARD_CHECKS: [string, string, number][] = [
  ['body text in a card', '.card th', 4.5],
  ['a value', '[data-value="voltage.0"]', 4.5],
  ['grey text', 'main .muted', 4.5],
  ['header name', 'header b', 4.5],
  ['header serial number', 'header .muted', 4.5],
  ['header page link', 'header nav a', 4.5],
  ['header log-in button', 'header .button', 4.5],
  ['pressed range button', '.card button[aria-pressed="true"]', 4.5],
  ['other range button', '.card button[aria-pressed="false"]', 4.5],
  ['footer', 'footer', 4.5],
  ['trend line L1', 'path.l1', 3],
  ['trend line L2', 'path.l2', 3],
  ['trend line L3', 'path.l3', 3],
  ['trend line total', 'path.total', 3],
];

const LOGIN_CHECKS: [string, string, number][] = [
  ['username field', 'input[name="username"], input[type="text"]', 4.5],
  ['password field', 'input[type="password"]', 4.5],
  ['field label', 'label', 4.5],
  ['log-in button', 'main button', 4.5],
];

interface Measured {
  found: { label: string; ratio: number | null; minimum: number; fg?: string; bg?: string }[];
  page: number;
}

async function measure(page: Page, checks: [string, string, number][]): Promise<Measured> {
  return (await page.evaluate(`${MEASURE}(${JSON.stringify(checks)})`)) as Measured;
}

function assertContrast(measured: Measured, scheme: string): void {
  const failing = measured.found
    .filter((m) => !(m.ratio !== null && m.ratio >= m.minimum))
    .map(
      (m) => `${m.label}: ${m.ratio === null ? 'not found' : `${m.ratio.toFixed(2)}:1 (${m.fg} on ${m.bg})`}`,
    );
  assert.deepEqual(failing, [], `${scheme}: below WCAG AA`);
}

describe('dark mode, in chromium', () => {
  let site: WebsiteFixture;
  before(async () => {
    site = await startWebsite();
  });
  after(() => site.close());

  for (const scheme of ['light', 'dark'] as const) {
    it(`${scheme}: the page follows the system setting, text, fields and header at AA contrast`, async () => {
      const context = await site.browser.newContext({
        colorScheme: scheme,
        viewport: { width: 1280, height: 900 },
      });
      try {
        const page = await context.newPage();
        page.on('pageerror', (error) => assert.fail(`page error: ${error.message}`));
        await page.goto(`${site.rest.httpsUrl}/#/`);
        await heading(page, 'Trends').waitFor();
        await page.locator('[data-value="voltage.0"]').waitFor();
        await page.locator('path.total').waitFor({ timeout: 15_000 });
        const dashboard = await measure(page, DASHBOARD_CHECKS);
        if (scheme === 'dark') assert.ok(dashboard.page < 0.05, `a dark page (luminance ${dashboard.page})`);
        else assert.ok(dashboard.page > 0.8, `a light page (luminance ${dashboard.page})`);
        assertContrast(dashboard, scheme);
        await screenshot(page, `dashboard-${scheme}`);

        await page.goto(`${site.rest.httpsUrl}/#/login`);
        await page.locator('input[type="password"]').waitFor();
        assertContrast(await measure(page, LOGIN_CHECKS), `${scheme} login`);
        await screenshot(page, `login-${scheme}`);
      } finally {
        await context.close();
      }
    });
  }
});
