/**
 * docs/display.md cannot drift from the menu model: every image and every menu item is in its tables
 * with the permission it declares, and the timeouts and the factory-reset window it states are the
 * firmware's.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  BOOT_WINDOW_MS,
  COMBO_MS,
  ENTRY_TIMEOUT_MS,
  MENU_TIMEOUT_MS,
  STORE_PROMPT_TIMEOUT_MS,
} from '../../firmware/display/display-app.ts';
import { allMenuItems, MAIN_MENU, MEASUREMENT_IMAGES } from '../../firmware/display/menu-model.ts';
import { REPO_ROOT } from '../support/device-process.ts';

const doc = readFileSync(join(REPO_ROOT, 'docs', 'display.md'), 'utf8');
const rows = doc.split('\n').filter((line) => line.startsWith('| '));

function rowNaming(label: string): string {
  const row = rows.find((line) => line.includes(label));
  assert.ok(row, `docs/display.md has no table row naming '${label}'`);
  return row;
}

describe('docs/display.md', () => {
  it('lists every measurement image with its permission', () => {
    for (const image of MEASUREMENT_IMAGES) {
      assert.match(
        rowNaming(`| ${image.title} |`),
        new RegExp(`\\| ${image.requires.replace('.', '\\.')} \\|$`),
      );
    }
  });

  it('lists every menu item with the permissions it declares', () => {
    const leaves = MAIN_MENU.flatMap((item) =>
      (item.children ?? [item]).map((leaf) => ({ leaf, parent: item.children ? item.label : null })),
    );
    assert.equal(leaves.length, allMenuItems().filter((item) => !item.children).length);
    for (const { leaf: item, parent } of leaves) {
      const row = rows.find((line) =>
        parent
          ? line.startsWith(`| ${parent} › `) && line.includes(item.label)
          : line.startsWith(`| ${item.label} |`),
      );
      assert.ok(row, `docs/display.md has no table row for ${parent ? `${parent} › ` : ''}${item.label}`);
      if (item.requires) assert.ok(row.includes(item.requires), `${item.id}: '${item.requires}' in ${row}`);
      if (item.edit) assert.ok(row.includes(item.edit), `${item.id}: '${item.edit}' in ${row}`);
      if (item.session) assert.match(row, /logged in/, `${item.id} is session-dependent: ${row}`);
    }
  });

  it('states the firmware timeouts and the factory-reset window', () => {
    assert.equal(MENU_TIMEOUT_MS, 2 * 60_000);
    assert.equal(ENTRY_TIMEOUT_MS, 5 * 60_000);
    assert.equal(STORE_PROMPT_TIMEOUT_MS, 2 * 60_000);
    assert.match(doc, /no key in a menu or message \| 2 min/);
    assert.match(doc, /no key in a value entry \| 5 min/);
    assert.match(doc, /"Store changes\?" unanswered after a timeout \| 2 min/);
    assert.match(doc, new RegExp(`first ${BOOT_WINDOW_MS / 1000} s after the device boots`));
    assert.match(doc, new RegExp(`OK within ${COMBO_MS / 1000} s`));
  });
});
