/**
 * The display's ANSI diff renderer, checked through a terminal model: what it writes shows the frame,
 * a repeated frame writes nothing, a changed cell writes one cursor placement and the changed run, the
 * origin offsets every position, and no text in a frame can put a control sequence on the line.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_SCREEN_SIZE,
  fitFrame,
  ScreenRenderer,
  type ScreenSize,
} from '../../../firmware/display/screen-renderer.ts';
import { AnsiScreen } from '../../support/ansi-screen.ts';

const ESC = '\x1b';
const HIDE_CURSOR = `${ESC}[?25l`;
/** A cursor-position sequence, the only other sequence the renderer writes. */
const CURSOR_POSITION = new RegExp(`${ESC}\\[\\d+;\\d+H`, 'g');
const SIZE: ScreenSize = { cols: 20, rows: 8 };

const FRAME = [
  'VOLTAGE',
  'L1   230.1 V',
  'L2   229.8 V',
  'L3   231.0 V',
  '',
  'L12  399.2 V',
  'L23  398.7 V',
  'localgui    OK:menu',
];

/** What the terminal shows, rows with their trailing spaces, as `fitFrame` pads them. */
function shown(screen: AnsiScreen): string[] {
  return screen.lines().map((line) => line.padEnd(screen.cols));
}

/** `text` with the renderer's own sequences removed: must be plain printable ASCII. */
function withoutRendererSequences(text: string): string {
  return text.replaceAll(HIDE_CURSOR, '').replace(CURSOR_POSITION, '');
}

function count(text: string, part: string): number {
  return text.split(part).length - 1;
}

describe('fitFrame', () => {
  it('pads short rows and missing rows with spaces and cuts long ones', () => {
    const frame = fitFrame(['abc', 'x'.repeat(25)], { cols: 10, rows: 3 });
    assert.deepEqual(frame, ['abc       ', 'xxxxxxxxxx', '          ']);
  });

  it('drops rows beyond the screen', () => {
    assert.deepEqual(fitFrame(['1', '2', '3', '4'], { cols: 2, rows: 2 }), ['1 ', '2 ']);
  });

  it('replaces control characters and non-ASCII with ?', () => {
    assert.deepEqual(fitFrame(['a\x1b[2Jb', 'Mäx\t\x7f~'], { cols: 8, rows: 2 }), ['a?[2Jb  ', 'M?x??~  ']);
  });
});

describe('ScreenRenderer', () => {
  it('draws every row on the first render, with the cursor hidden', () => {
    const renderer = new ScreenRenderer(SIZE);
    const screen = new AnsiScreen(SIZE.cols, SIZE.rows);
    const out = renderer.render(FRAME);
    screen.feed(out);
    assert.deepEqual(shown(screen), fitFrame(FRAME, SIZE));
    assert.ok(out.startsWith(HIDE_CURSOR), JSON.stringify(out));
    for (let row = 1; row <= SIZE.rows; row++) assert.ok(out.includes(`\x1b[${row};1H`), `row ${row} placed`);
  });

  it('draws the whole screen, blank rows included, over whatever was there', () => {
    const renderer = new ScreenRenderer(SIZE);
    const screen = new AnsiScreen(SIZE.cols, SIZE.rows);
    screen.feed(`${'#'.repeat(SIZE.cols)}\r\n`.repeat(SIZE.rows));
    screen.feed(renderer.render(['only one row']));
    assert.deepEqual(screen.lines(), ['only one row', '', '', '', '', '', '', '']);
  });

  it('pads and cuts a frame that does not fit', () => {
    const size = { cols: 6, rows: 3 };
    const renderer = new ScreenRenderer(size);
    const screen = new AnsiScreen(size.cols, size.rows);
    screen.feed(renderer.render(['a much too long row', 'b', 'c', 'd beyond the last row']));
    assert.deepEqual(screen.lines(), ['a much', 'b', 'c']);
  });

  it('uses the default size of the display', () => {
    const renderer = new ScreenRenderer(DEFAULT_SCREEN_SIZE);
    const screen = new AnsiScreen(DEFAULT_SCREEN_SIZE.cols, DEFAULT_SCREEN_SIZE.rows);
    screen.feed(renderer.render(FRAME));
    assert.deepEqual(shown(screen), fitFrame(FRAME, DEFAULT_SCREEN_SIZE));
  });

  it('writes nothing when the frame did not change', () => {
    const renderer = new ScreenRenderer(SIZE);
    assert.notEqual(renderer.render(FRAME), '');
    assert.equal(renderer.render(FRAME), '');
    assert.equal(renderer.render([...FRAME]), '');
    // Padding makes these the same frame as far as the screen goes.
    assert.equal(renderer.render(FRAME.map((line) => `${line}   `)), '');
  });

  it('writes one cursor placement and the changed cell for a one-character change', () => {
    const renderer = new ScreenRenderer(SIZE);
    const screen = new AnsiScreen(SIZE.cols, SIZE.rows);
    screen.feed(renderer.render(FRAME));
    const next = [...FRAME];
    next[2] = 'L2  X229.8 V'; // row 3, column 5 (1-based) was a space
    const out = renderer.render(next);
    assert.equal(out, '\x1b[3;5HX');
    screen.feed(out);
    assert.deepEqual(shown(screen), fitFrame(next, SIZE));
  });

  it('writes the run from the first to the last changed cell of each changed row', () => {
    const renderer = new ScreenRenderer(SIZE);
    const screen = new AnsiScreen(SIZE.cols, SIZE.rows);
    screen.feed(renderer.render(FRAME));
    const next = [...FRAME];
    next[1] = 'L1   231.4 V';
    next[6] = 'L23  398.7 kV';
    const out = renderer.render(next);
    assert.equal(out, '\x1b[2;8H1.4\x1b[7;12HkV');
    screen.feed(out);
    assert.deepEqual(shown(screen), fitFrame(next, SIZE));
  });

  it('clears the rest of a row that got shorter by writing spaces', () => {
    const renderer = new ScreenRenderer(SIZE);
    const screen = new AnsiScreen(SIZE.cols, SIZE.rows);
    screen.feed(renderer.render(FRAME));
    const next = [...FRAME];
    next[7] = 'localgui';
    const out = renderer.render(next);
    // 'localgui    OK:menu': the spaces after 'localgui' stay, 'OK:menu' (columns 13-19) is blanked.
    assert.equal(out, `\x1b[8;13H${' '.repeat(7)}`);
    screen.feed(out);
    assert.equal(screen.lines()[7], 'localgui');
  });

  it('keeps the screen equal to the frame over a series of frames', () => {
    const renderer = new ScreenRenderer(SIZE);
    const screen = new AnsiScreen(SIZE.cols, SIZE.rows);
    const frames = [
      FRAME,
      ['MENU', '>Measurements', ' Energy meters', ' Settings'],
      ['MENU', ' Measurements', '>Energy meters', ' Settings'],
      ['ENERGY METERS', 'Import 12345.6 kWh', 'Export     0.0 kWh'],
      [],
      FRAME,
    ];
    for (const frame of frames) {
      screen.feed(renderer.render(frame));
      assert.deepEqual(shown(screen), fitFrame(frame, SIZE), JSON.stringify(frame));
    }
  });

  it('redraws everything after invalidate()', () => {
    const renderer = new ScreenRenderer(SIZE);
    const first = renderer.render(FRAME);
    assert.equal(renderer.render(FRAME), '');
    renderer.invalidate();
    const again = renderer.render(FRAME);
    assert.equal(again, first);
    const screen = new AnsiScreen(SIZE.cols, SIZE.rows);
    screen.feed(`${'#'.repeat(SIZE.cols)}\r\n`.repeat(SIZE.rows));
    screen.feed('\x1b[2J');
    screen.feed(again);
    assert.deepEqual(shown(screen), fitFrame(FRAME, SIZE));
    assert.equal(renderer.render(FRAME), '', 'and diffs again afterwards');
  });

  it('offsets every position by the origin', () => {
    const size = { cols: 6, rows: 2 };
    const renderer = new ScreenRenderer(size, { row: 2, col: 2 });
    const first = renderer.render(['abc', 'def']);
    assert.equal(first, `${HIDE_CURSOR}\x1b[2;2Habc   \x1b[3;2Hdef   `);
    assert.equal(renderer.render(['abc', 'dXf']), '\x1b[3;3HX');
  });

  it('draws the frame in a corner of a larger terminal at the origin', () => {
    const renderer = new ScreenRenderer(SIZE, { row: 3, col: 11 });
    const terminal = new AnsiScreen(40, 12);
    terminal.feed(renderer.render(FRAME));
    const lines = terminal.lines().map((line) => line.padEnd(40));
    const expected = fitFrame(FRAME, SIZE);
    for (let row = 0; row < 12; row++) {
      const inFrame = row >= 2 && row < 2 + SIZE.rows;
      const want = inFrame ? `${' '.repeat(10)}${expected[row - 2]}${' '.repeat(10)}` : ' '.repeat(40);
      assert.equal(lines[row], want, `terminal row ${row + 1}`);
    }
  });

  it('draws control characters and non-ASCII in a line as ? and never writes them', () => {
    const renderer = new ScreenRenderer(SIZE);
    const screen = new AnsiScreen(SIZE.cols, SIZE.rows);
    const hostile = [
      'USER',
      'ev\x1b[2Jil',
      'Jörg Müller',
      'a\rb\nc\x07d\x08e',
      '\x1b]0;title\x07',
      '\x9b2J\u202e€',
      'x\x1bcy',
      'ok',
    ];
    const out = renderer.render(hostile);
    screen.feed(out);
    assert.deepEqual(screen.lines(), [
      'USER',
      'ev?[2Jil',
      'J?rg M?ller',
      'a?b?c?d?e',
      '?]0;title?',
      '?2J??',
      'x?cy',
      'ok',
    ]);
    // One hide-cursor sequence and one cursor placement per row: nothing else from the renderer.
    assert.equal(count(out, '\x1b'), 1 + SIZE.rows);
    assert.equal(count(out, '\x1b['), 1 + SIZE.rows);
    assert.match(withoutRendererSequences(out), /^[\x20-\x7e]*$/);
  });

  it('never writes a control character on a diff either', () => {
    const renderer = new ScreenRenderer(SIZE);
    const screen = new AnsiScreen(SIZE.cols, SIZE.rows);
    screen.feed(renderer.render(FRAME));
    const next = [...FRAME];
    next[7] = 'm\x1b[2Jallory\x1b[H';
    const out = renderer.render(next);
    assert.equal(count(out, '\x1b'), 1, JSON.stringify(out));
    assert.match(withoutRendererSequences(out), /^[\x20-\x7e]*$/);
    screen.feed(out);
    assert.equal(screen.lines()[7], 'm?[2Jallory?[H');
    assert.deepEqual(shown(screen), fitFrame(next, SIZE));
  });
});
