/**
 * Steps the website's end-to-end tests take in a page the way a person would: logging in and out with
 * the keyboard, finding headings and the menu, and checking a page at one width (every control
 * labelled, no sideways scrolling).
 */
import assert from 'node:assert/strict';
import type { Locator, Page } from 'playwright-core';

export const heading = (page: Page, name: string): Locator =>
  page.getByRole('heading', { name, exact: true });

/** The menu's entries, sorted. */
export const navLinks = async (page: Page): Promise<string[]> =>
  (await page.getByRole('navigation').getByRole('link').allTextContents()).sort();

export async function logIn(page: Page, username: string, password: string): Promise<void> {
  try {
    await page.getByRole('banner').getByRole('link', { name: 'Log in' }).click({ timeout: 45_000 });
  } catch (error) {
    const shown = await page
      .locator('body')
      .textContent()
      .catch(() => null);
    throw new Error(`no Log in link in the header; the page shows: ${shown ?? '(nothing)'}`, {
      cause: error,
    });
  }
  // The page's first requests (info, me, permissions) answered: nothing re-renders under the typing.
  await page.waitForLoadState('networkidle');
  // Keyboard only: the fields are labelled and the form submits with Enter.
  await page.getByLabel('User name').focus();
  await page.keyboard.type(username);
  await page.keyboard.press('Tab');
  await page.keyboard.type(password);
  const typedName = await page.getByLabel('User name').inputValue();
  const typedPassword = await page.getByLabel('Password').inputValue();
  if (typedName !== username || typedPassword !== password) {
    throw new Error(
      `typed text was lost: the user name field holds '${typedName}', the password ${typedPassword.length} characters`,
    );
  }
  await page.keyboard.press('Enter');
  // The key is derived in the page (600,000 PBKDF2 rounds): generous on a loaded machine, and a failure
  // says what the page showed.
  try {
    await page.getByRole('banner').getByRole('button', { name: 'Log out' }).waitFor({ timeout: 45_000 });
  } catch (error) {
    const shown = await page
      .locator('[role=alert], .error')
      .allTextContents()
      .catch(() => []);
    throw new Error(
      `login as ${username} did not complete; the page shows: ${shown.join(' | ') || 'no error'}`,
      {
        cause: error,
      },
    );
  }
}

export async function logOut(page: Page): Promise<void> {
  await page.getByRole('banner').getByRole('button', { name: 'Log out' }).click();
  await page.getByRole('banner').getByRole('link', { name: 'Log in' }).waitFor();
}

/** Every input, select and textarea of the page has a label, and the page does not scroll sideways. */
export async function assertUsable(page: Page, name: string): Promise<void> {
  const unlabelled = await page.evaluate(() =>
    [...document.querySelectorAll('input, select, textarea')]
      .filter((el) => !(el as HTMLInputElement).labels?.length && !el.getAttribute('aria-label'))
      .map((el) => el.outerHTML),
  );
  assert.deepEqual(unlabelled, [], `${name}: every control has a label`);
  const width = await page.evaluate(() => window.innerWidth);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `${name} at ${width}px scrolls sideways by ${overflow}px`);
}
