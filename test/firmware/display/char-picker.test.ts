/**
 * The display's character picker, measured: how many of the four keys one character costs in the
 * worst case (the bound docs/display.md states), that every character can be entered, and that
 * Back, "done" and typed characters do what the display promises.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  newPicker,
  PICKER_CHARSET,
  PICKER_DONE,
  PICKER_GROUPS,
  PICKER_WORST_CASE,
  type PickerResult,
  type PickerState,
  pickerKeys,
  planChar,
  planDone,
  pressPicker,
  typePicker,
} from '../../../firmware/display/char-picker.ts';
import type { DisplayKey } from '../../../firmware/display/key-decoder.ts';
import { REPO_ROOT } from '../../support/device-process.ts';

/** Presses `keys` on a fresh picker; the final result. */
function run(keys: readonly DisplayKey[], start: PickerState = newPicker()): PickerResult {
  let result: PickerResult = { kind: 'edit', state: start };
  for (const key of keys) {
    assert.equal(result.kind, 'edit', 'no key after the entry ended');
    result = pressPicker((result as { state: PickerState }).state, key);
  }
  return result;
}

/** Every state the picker is in right after a character was added (and the fresh one). */
function statesAfterOneChar(): PickerState[] {
  return [newPicker(), ...[...PICKER_CHARSET].map((char) => planChar(newPicker(), char).state)];
}

describe('character picker', () => {
  it('offers printable ASCII, each character once', () => {
    const ascii = Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i)).join('');
    assert.equal([...PICKER_CHARSET].sort().join(''), [...ascii].sort().join(''));
  });

  it('types every character, alone and after every other one, with the planned keys', () => {
    for (const a of PICKER_CHARSET) {
      for (const b of PICKER_CHARSET) {
        const text = `${a}${b}`;
        assert.deepEqual(run(pickerKeys(text)), { kind: 'done', text }, JSON.stringify(text));
      }
    }
  });

  it(`costs at most PICKER_WORST_CASE (${PICKER_WORST_CASE}) keys per character, and that bound is reached`, () => {
    let worst = 0;
    let worstSameGroup = 0;
    for (const state of statesAfterOneChar()) {
      for (const char of PICKER_CHARSET) {
        const cost = planChar(state, char).keys.length;
        worst = Math.max(worst, cost);
        const sameGroup = state.inGroup && (PICKER_GROUPS[state.group]?.chars.includes(char) ?? false);
        if (sameGroup) worstSameGroup = Math.max(worstSameGroup, cost);
      }
    }
    assert.equal(worst, PICKER_WORST_CASE);
    assert.ok(worst <= 15, `${worst} keys for one character`);
    assert.equal(worstSameGroup, 9, 'a character of the open group');
    const finish = Math.max(...statesAfterOneChar().map((state) => planDone(state).length));
    assert.equal(finish, 6, 'submitting after the last character');
  });

  it('takes fewer keys than the former list of 95 characters (up to 48 per character)', () => {
    const password = 'Feeder-Panel-61';
    const perChar = (pickerKeys(password).length - planDone(newPicker()).length) / password.length;
    assert.ok(perChar < 10, `${perChar.toFixed(1)} keys per character for ${password}`);
  });

  it('Back deletes at the groups, returns to the groups inside one, and leaves an empty entry', () => {
    const typed = run(
      pickerKeys('ab').slice(0, -planDone(planChar(planChar(newPicker(), 'a').state, 'b').state).length),
    );
    assert.equal(typed.kind, 'edit');
    let state = (typed as { state: PickerState }).state;
    assert.equal(state.inGroup, true);
    state = (pressPicker(state, 'back') as { state: PickerState }).state;
    assert.equal(state.inGroup, false);
    assert.equal(state.text, 'ab');
    state = (pressPicker(state, 'back') as { state: PickerState }).state;
    assert.equal(state.text, 'a');
    state = (pressPicker(state, 'back') as { state: PickerState }).state;
    assert.equal(state.text, '');
    assert.deepEqual(pressPicker(state, 'back'), { kind: 'leave' });
  });

  it('typed characters are added as they are and leave the picker on done, so Enter submits', () => {
    let state = newPicker();
    for (const char of 'Tariff~Clock 48') state = typePicker(state, char);
    assert.equal(state.group, PICKER_DONE);
    assert.deepEqual(pressPicker(state, 'ok'), { kind: 'done', text: 'Tariff~Clock 48' });
    const deleted = pressPicker(state, 'back') as { state: PickerState };
    assert.equal(deleted.state.text, 'Tariff~Clock 4');
  });

  it('docs/display.md states the bound', () => {
    const doc = readFileSync(join(REPO_ROOT, 'docs', 'display.md'), 'utf8');
    assert.match(doc, new RegExp(`at most \\*\\*${PICKER_WORST_CASE}\\*\\* key presses`));
    assert.match(doc, /open at most 9/);
    assert.match(doc, /at most 6\s+more/);
  });
});
