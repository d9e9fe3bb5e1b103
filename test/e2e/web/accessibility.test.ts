/**
 * Every page of the website checked by axe-core (Deque's engine, WCAG 2.1 A/AA rules) with no serious
 * or critical finding, as anonymous and as the administrator, at 1280 px and at 390 px, in the light
 * and in the dark colour scheme; and a screenshot of each of those to test-output/screenshots/
 * (issue 16). The pages are found as a person finds them, by the menu and footer links a logged-in
 * administrator sees, so a new page is checked without being listed here.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { screenshot } from '../../support/browser.ts';
import { ADMIN_PASSWORD, startWebsite, type WebsiteFixture } from './website-fixture.ts';
import { logIn } from './website-steps.ts';

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const WIDTHS = [1280, 390] as const;
const SCHEMES = ['light', 'dark'] as const;

interface Finding {
  id: string;
  impact: string;
  help: string;
  nodes: string[];
}

/** axe-core's serious and critical findings on what `page` shows now. */
async function seriousFindings(page: Page): Promise<Finding[]> {
  if (!(await page.evaluate('typeof window.axe'))?.toString().includes('object')) {
    await page.addScriptTag({ content: AXE_SOURCE });
  }
  const findings = (await page.evaluate(`axe
    .run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
    .then((r) => r.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) })))`)) as Finding[];
  return findings;
}

const describeFindings = (where: string, findings: Finding[]) =>
  findings.map((f) => `${where}: ${f.impact} ${f.id} (${f.help}) at ${f.nodes.join(', ')}`);

describe('website accessibility (axe-core) and screenshots', { timeout: 600_000 }, () => {
  let site: WebsiteFixture;
  before(async () => {
    site = await startWebsite();
  });
  after(async () => site?.close());

  /** A page in `scheme` at `width`, with CSP bypassed only so the test can load axe into it. */
  async function openAs(width: number, scheme: 'light' | 'dark', login: boolean): Promise<Page> {
    const context = await site.browser.newContext({
      viewport: { width, height: 800 },
      colorScheme: scheme,
      bypassCSP: true,
    });
    const page = await context.newPage();
    page.on('pageerror', (error) => assert.fail(`page error: ${error.message}`));
    await page.goto(`${site.rest.httpsUrl}/`);
    if (login) await logIn(page, 'admin', ADMIN_PASSWORD);
    return page;
  }

  /** The pages a person can reach from the menu and the footer, as hashes. */
  async function reachable(page: Page): Promise<string[]> {
    const hrefs = (await page.evaluate(
      `[...document.querySelectorAll('nav a[href^="#/"], footer a[href^="#/"]')].map((a) => a.getAttribute('href'))`,
    )) as string[];
    return [...new Set(hrefs)];
  }

  const shotName = (hash: string, who: string, width: number, scheme: string) =>
    `${(hash.replace(/^#\//, '') || 'dashboard').replace(/\W+/g, '-')}-${who}-${width}px-${scheme}`;

  it('no serious or critical finding on any page, for anonymous and the administrator, at every width and scheme', async () => {
    const problems: string[] = [];
    let checked = 0;
    for (const scheme of SCHEMES) {
      for (const width of WIDTHS) {
        const visitor = await openAs(width, scheme, false);
        for (const hash of ['#/', '#/login']) {
          await visitor.goto(`${site.rest.httpsUrl}/${hash}`);
          await visitor.getByRole('heading', { level: 1 }).waitFor();
          await visitor.waitForLoadState('networkidle');
          await screenshot(visitor, shotName(hash, 'anonymous', width, scheme));
          problems.push(
            ...describeFindings(`anonymous ${hash} ${width}px ${scheme}`, await seriousFindings(visitor)),
          );
          checked++;
        }
        await visitor.context().close();

        const admin = await openAs(width, scheme, true);
        const pages = await reachable(admin);
        assert.ok(pages.length >= 8, `the administrator reaches every page: ${pages.join(', ')}`);
        for (const hash of pages) {
          await admin.goto(`${site.rest.httpsUrl}/${hash}`);
          await admin.getByRole('heading', { level: 1 }).waitFor();
          await admin.waitForLoadState('networkidle');
          await screenshot(admin, shotName(hash, 'admin', width, scheme));
          problems.push(
            ...describeFindings(`admin ${hash} ${width}px ${scheme}`, await seriousFindings(admin)),
          );
          checked++;
        }
        await admin.context().close();
      }
    }
    assert.ok(checked >= 40, `${checked} page views checked`);
    assert.deepEqual(problems, [], `axe-core found:\n${problems.join('\n')}`);
  });

  it('the check itself finds a serious problem when there is one (an image button without a name)', async () => {
    const page = await openAs(1280, 'light', false);
    await page.getByRole('heading', { level: 1 }).waitFor();
    // Beside the app's root, which the app re-renders: the button stays.
    await page.evaluate(
      `document.body.insertAdjacentHTML('beforeend', '<button type="button"><svg width="10" height="10"></svg></button>')`,
    );
    const findings = await seriousFindings(page);
    assert.ok(
      findings.some((f) => f.id === 'button-name'),
      `axe reports the unnamed button: ${JSON.stringify(findings)}`,
    );
    await page.context().close();
  });
});
