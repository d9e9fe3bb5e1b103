/**
 * The website in the browser's language (issue 16, "Languages"): a German browser gets German from the
 * first paint (login form, menu, html lang), dates as German writes them, the page's own checks in
 * German, the dashboard's quantities in German with numbers written with a decimal comma; the switch
 * in the footer changes to French at once and the choice survives a reload, the status and settings
 * pages then in French; the pack of a language is fetched only when that language is shown.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { waitUntil } from '../../support/browser.ts';
import { ADMIN_PASSWORD, startWebsite, type WebsiteFixture } from './website-fixture.ts';

describe('website languages', { timeout: 180_000 }, () => {
  let site: WebsiteFixture;
  before(async () => {
    site = await startWebsite();
  });
  after(async () => site?.close());

  /** A page as a browser set to `locale` opens it, with the packs it fetched. */
  async function openIn(locale: string, hash = '#/'): Promise<{ page: Page; packs: string[] }> {
    const context = await site.browser.newContext({ locale, viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    page.on('pageerror', (error) => assert.fail(`page error: ${error.message}`));
    const packs: string[] = [];
    page.on('request', (request) => {
      // i18n-<language>-<part>-<hash>.json: the language, and which part's texts (core: the first load).
      const match = /\/assets\/i18n-(\w+)-([\w-]+)-[0-9a-f]+\.json$/.exec(request.url());
      if (match?.[1]) packs.push(match[2] === 'core' ? match[1] : `${match[1]}-${match[2]}`);
    });
    await page.goto(`${site.rest.httpsUrl}/${hash}`);
    return { page, packs };
  }

  it('an English browser fetches no pack', async () => {
    const { page, packs } = await openIn('en-GB', '#/login');
    await page.getByRole('heading', { name: 'Log in', exact: true }).waitFor();
    assert.equal(await page.getAttribute('html', 'lang'), 'en');
    assert.deepEqual(packs, []);
    await page.context().close();
  });

  it('a German browser logs in in German, sees German dates and checks, and switches to French', async () => {
    const { page, packs } = await openIn('de-CH', '#/login');
    await page.getByRole('heading', { name: 'Anmelden', exact: true }).waitFor();
    assert.equal(await page.getAttribute('html', 'lang'), 'de');
    assert.deepEqual(packs, ['de']);
    // Not a word of the English form is left.
    const form = await page.getByRole('main').textContent();
    assert.doesNotMatch(form ?? '', /User name|Password|Log in|never leaves/);

    await page.getByLabel('Benutzername').fill('admin');
    await page.getByLabel('Passwort', { exact: true }).fill(ADMIN_PASSWORD);
    await page.getByRole('main').getByRole('button', { name: 'Anmelden' }).click();
    await page.getByRole('banner').getByRole('button', { name: 'Abmelden' }).waitFor({ timeout: 45_000 });
    const menu = await page.getByRole('navigation').getByRole('link').allTextContents();
    for (const entry of ['Übersicht', 'Einstellungen', 'Benutzer', 'Sicherheit', 'Ereignisprotokoll']) {
      assert.ok(menu.includes(entry), `menu ${menu.join(', ')} has ${entry}`);
    }

    // The dashboard: German headings and quantities, numbers with a decimal comma (50,000 Hz).
    await page.goto(`${site.rest.httpsUrl}/#/`);
    const main = page.getByRole('main');
    for (const heading of ['Messwerte', 'Verläufe', 'Energiezähler', 'Min-/Max-Werte']) {
      await main.getByRole('heading', { name: heading, exact: true }).waitFor();
    }
    await main.getByRole('rowheader', { name: 'Wirkleistung P', exact: true }).waitFor();
    await main.getByRole('columnheader', { name: 'Gesamt', exact: true }).waitFor();
    const frequency = await waitUntil(async () => {
      const text = (await page.locator('[data-value="frequency"]').textContent()) ?? '';
      return /^\d+,\d{3} Hz$/.test(text) ? text : null;
    });
    assert.ok(frequency, 'the frequency written with a decimal comma, such as 50,000 Hz');
    const dashboard = (await main.textContent()) ?? '';
    assert.match(dashboard, /\d,\d{3} kWh/, 'an energy written with a decimal comma');
    assert.match(dashboard, /Energiezähler zurücksetzen/);
    assert.doesNotMatch(
      dashboard,
      /Measurements|Energy meters|Voltage|Active power|Frequency|Primary values/,
    );
    assert.doesNotMatch(dashboard, /\d\.\d{3} (?:Hz|kWh)/, 'no decimal point left');

    // A date as German writes it: day.month.year, 24-hour clock.
    await page.goto(`${site.rest.httpsUrl}/#/certificates`);
    await page.getByRole('heading', { name: 'Zertifikate', exact: true }).waitFor();
    // A page behind the login brings its own texts: its pack comes with its code, German from the start.
    await page.getByRole('heading', { name: 'HTTPS-Zertifikat', exact: true }).waitFor();
    assert.ok(
      packs.includes('de-certificates-page'),
      `the certificates page's German pack was fetched: ${packs.join(', ')}`,
    );
    const germanDate = /\d{2}\.\d{2}\.\d{2}, \d{2}:\d{2}:\d{2}/;
    const shown = await waitUntil(async () => {
      const text = (await page.getByRole('main').textContent()) ?? '';
      return germanDate.test(text) ? text : null;
    });
    assert.ok(shown, 'a date written day.month.year, 24-hour clock');

    // The page's own check, in German, next to its field.
    await page.goto(`${site.rest.httpsUrl}/#/account`);
    await page.getByLabel('Aktuelles Passwort').fill(ADMIN_PASSWORD);
    await page.getByLabel('Neues Passwort', { exact: true }).fill('Zähler-Prüfung 2026');
    await page.getByLabel('Neues Passwort wiederholen').fill('Zähler-Prüfung 2027');
    await page.getByRole('button', { name: 'Passwort ändern' }).click();
    await page.getByText('Die beiden neuen Passwörter stimmen nicht überein.').waitFor();

    // The switch: French at once, kept over a reload, and the footer names the language in itself.
    await page.getByRole('combobox', { name: 'Sprache' }).selectOption('fr');
    await page.getByRole('heading', { name: 'Compte', exact: true }).waitFor();
    assert.equal(await page.getAttribute('html', 'lang'), 'fr');
    await page.reload();
    await page.getByRole('banner').getByRole('button', { name: 'Se déconnecter' }).waitFor();
    assert.equal(await page.getByRole('combobox', { name: 'Langue' }).inputValue(), 'fr');

    // The device status and the settings, in French.
    await page.goto(`${site.rest.httpsUrl}/#/status`);
    for (const heading of ['Appareil', 'Ports', 'Certificat HTTPS', 'Mémoire']) {
      await main.getByRole('heading', { name: heading, exact: true }).waitFor();
    }
    assert.match(
      (await page.locator('[data-status="certificate"]').textContent()) ?? '',
      /^valide : encore \d+ jours$/,
    );
    assert.equal(await page.locator('[data-status="store"]').textContent(), 'en bon état');
    await page.goto(`${site.rest.httpsUrl}/#/settings`);
    await main.getByRole('heading', { name: 'Mesure', exact: true }).waitFor();
    await main.getByLabel('Rapport du transformateur de tension').waitFor();
    await main.getByRole('button', { name: 'Enregistrer les réglages' }).waitFor();
    assert.doesNotMatch((await main.textContent()) ?? '', /Measurement|VT ratio|Save settings|Word order/);
    assert.deepEqual([...new Set(packs.map((p) => p.split('-')[0]))].sort(), ['de', 'fr']);
    await page.context().close();
  });
});
