/**
 * The character picker of the display's four keys, for user names and passwords: a character is
 * chosen in two steps, first its group (a-m, n-z, A-M, N-Z, 0-9 and two groups of punctuation), then
 * the character in the group, so no character is more than a few presses away (PICKER_WORST_CASE).
 * A terminal keyboard on the display line types characters directly (`type`). Pure: the state is a
 * value, each key gives the next one.
 */
import type { DisplayKey } from './key-decoder.ts';

export interface PickerGroup {
  readonly label: string;
  readonly chars: string;
}

/** The groups, in the order up/down step through them; after the last one comes "done". */
export const PICKER_GROUPS: readonly PickerGroup[] = [
  { label: 'a-m', chars: 'abcdefghijklm' },
  { label: 'n-z', chars: 'nopqrstuvwxyz' },
  { label: 'A-M', chars: 'ABCDEFGHIJKLM' },
  { label: 'N-Z', chars: 'NOPQRSTUVWXYZ' },
  { label: '0-9', chars: '0123456789' },
  { label: 'space !-/', chars: ' !"#$%&\'()*+,-./' },
  { label: ':-@ [-` {-~', chars: ':;<=>?@[\\]^_`{|}~' },
];

/** Every character the picker offers. */
export const PICKER_CHARSET = PICKER_GROUPS.map((group) => group.chars).join('');

/** The index of "done" among the group choices. */
export const PICKER_DONE = PICKER_GROUPS.length;

/** The longest entry the display takes (the core's password maximum). */
export const PICKER_MAX_LENGTH = 128;

export interface PickerState {
  readonly text: string;
  /** The group choice shown (PICKER_DONE: done). */
  readonly group: number;
  /** Inside a group: choosing its character; else choosing the group. */
  readonly inGroup: boolean;
  /** Per group, the character last shown in it, so a run of one group stays put. */
  readonly positions: readonly number[];
}

export type PickerResult =
  | { readonly kind: 'edit'; readonly state: PickerState }
  /** OK on "done". */
  | { readonly kind: 'done'; readonly text: string }
  /** Back with nothing entered. */
  | { readonly kind: 'leave' };

export function newPicker(): PickerState {
  return { text: '', group: 0, inGroup: false, positions: PICKER_GROUPS.map(() => 0) };
}

function cycle(index: number, key: 'up' | 'down', count: number): number {
  return (index + (key === 'down' ? 1 : count - 1)) % count;
}

/** The state after one of the four keys. */
export function pressPicker(state: PickerState, key: DisplayKey): PickerResult {
  const edit = (next: Partial<PickerState>): PickerResult => ({ kind: 'edit', state: { ...state, ...next } });
  if (state.inGroup) {
    const chars = (PICKER_GROUPS[state.group] as PickerGroup).chars;
    const position = state.positions[state.group] as number;
    if (key === 'back') return edit({ inGroup: false });
    if (key === 'ok') {
      return state.text.length < PICKER_MAX_LENGTH ? edit({ text: state.text + chars[position] }) : edit({});
    }
    const positions = [...state.positions];
    positions[state.group] = cycle(position, key, chars.length);
    return edit({ positions });
  }
  if (key === 'back')
    return state.text.length > 0 ? edit({ text: state.text.slice(0, -1) }) : { kind: 'leave' };
  if (key === 'ok')
    return state.group === PICKER_DONE ? { kind: 'done', text: state.text } : edit({ inGroup: true });
  return edit({ group: cycle(state.group, key, PICKER_DONE + 1) });
}

/**
 * A character typed on a terminal keyboard: added as it is, and the picker waits on "done", so Enter
 * (OK) after typing submits, and Backspace (Back) deletes.
 */
export function typePicker(state: PickerState, char: string): PickerState {
  if (state.text.length >= PICKER_MAX_LENGTH) return state;
  return { ...state, text: state.text + char, group: PICKER_DONE, inGroup: false };
}

/** The picker's line: `< a-m >` while a group is chosen, its characters with `[x]` on the one shown inside. */
export function pickerLine(state: PickerState, cols: number): string {
  if (!state.inGroup) {
    const label = state.group === PICKER_DONE ? 'done' : (PICKER_GROUPS[state.group] as PickerGroup).label;
    return `< ${label} >`;
  }
  const chars = (PICKER_GROUPS[state.group] as PickerGroup).chars;
  const position = state.positions[state.group] as number;
  const strip = `${chars.slice(0, position)}[${chars[position]}]${chars.slice(position + 1)}`;
  if (strip.length <= cols) return strip;
  // A narrow display shows the part of the group around the character.
  const start = Math.min(Math.max(0, position + 1 - Math.floor(cols / 2)), strip.length - cols);
  return strip.slice(start, start + cols);
}

/** What OK and Back do now, for the footer. */
export function pickerFooter(state: PickerState): string {
  if (state.inGroup) return 'OK:add Esc:groups';
  const ok = state.group === PICKER_DONE ? 'OK:done' : 'OK:open';
  return `${ok} Esc:${state.text.length > 0 ? 'delete' : 'back'}`;
}

function moves(from: number, to: number, count: number): DisplayKey[] {
  const down = (to - from + count) % count;
  return down <= count - down ? Array(down).fill('down') : Array(count - down).fill('up');
}

function apply(state: PickerState, keys: readonly DisplayKey[]): PickerState {
  let next = state;
  for (const key of keys) {
    const result = pressPicker(next, key);
    if (result.kind === 'edit') next = result.state;
  }
  return next;
}

/**
 * The fewest keys that add `char` from `state` (the group left and another opened only when needed),
 * and the state after them. Throws for a character the picker does not offer.
 */
export function planChar(state: PickerState, char: string): { keys: DisplayKey[]; state: PickerState } {
  const group = PICKER_GROUPS.findIndex((g) => g.chars.includes(char));
  if (group < 0) throw new Error(`'${char}' cannot be entered with the display's picker`);
  const chars = (PICKER_GROUPS[group] as PickerGroup).chars;
  const keys: DisplayKey[] = [];
  if (state.inGroup && state.group !== group) keys.push('back');
  if (!(state.inGroup && state.group === group))
    keys.push(...moves(state.group, group, PICKER_DONE + 1), 'ok');
  keys.push(...moves(state.positions[group] as number, chars.indexOf(char), chars.length), 'ok');
  return { keys, state: apply(state, keys) };
}

/** The fewest keys from `state` to "done" and OK (which submits). */
export function planDone(state: PickerState): DisplayKey[] {
  return [
    ...(state.inGroup ? (['back'] as DisplayKey[]) : []),
    ...moves(state.group, PICKER_DONE, PICKER_DONE + 1),
    'ok',
  ];
}

/** The keys that type `text` on a fresh picker and submit it (for tests and the documented bound). */
export function pickerKeys(text: string): DisplayKey[] {
  const keys: DisplayKey[] = [];
  let state = newPicker();
  for (const char of text) {
    const step = planChar(state, char);
    keys.push(...step.keys);
    state = step.state;
  }
  return [...keys, ...planDone(state)];
}

/**
 * The most keys one character can cost: leave the group (1), step to the farthest group (half the
 * ring of groups and "done"), open it (1), step to the farthest character of the largest group, add it (1).
 */
export const PICKER_WORST_CASE =
  1 +
  Math.floor((PICKER_DONE + 1) / 2) +
  1 +
  Math.floor(Math.max(...PICKER_GROUPS.map((g) => g.chars.length)) / 2) +
  1;
