/**
 * Draws the display's text frame on a VT100/ANSI terminal and redraws only what changed: per row, the
 * run from the first to the last changed column, placed with a cursor-position sequence. The frame is
 * `cols` × `rows` cells at `origin` (1-based), so a console can show the display in a corner of a larger
 * screen. Cells hold printable ASCII only: anything else is drawn as `?`, so no text (a user name, a
 * message) can inject control sequences into the terminal.
 */

export interface ScreenSize {
  readonly cols: number;
  readonly rows: number;
}

export const DEFAULT_SCREEN_SIZE: ScreenSize = { cols: 20, rows: 8 };

const HIDE_CURSOR = '\x1b[?25l';

export class ScreenRenderer {
  private shown: string[] | null = null;

  constructor(
    readonly size: ScreenSize,
    private readonly origin: { readonly row: number; readonly col: number } = { row: 1, col: 1 },
  ) {}

  /** The escape sequences that turn what is shown into `lines`; '' when nothing changed. */
  render(lines: readonly string[]): string {
    const next = fitFrame(lines, this.size);
    const previous = this.shown;
    this.shown = next;
    let out = previous ? '' : HIDE_CURSOR;
    next.forEach((row, r) => {
      const before = previous?.[r];
      let first = 0;
      let last = row.length - 1;
      if (before !== undefined) {
        while (first < row.length && row[first] === before[first]) first++;
        if (first === row.length) return;
        while (last > first && row[last] === before[last]) last--;
      }
      out += `\x1b[${this.origin.row + r};${this.origin.col + first}H${row.slice(first, last + 1)}`;
    });
    return out;
  }

  /** Forgets what is shown: the next render draws every cell (after the terminal was cleared). */
  invalidate(): void {
    this.shown = null;
  }
}

/** Exactly `rows` rows of exactly `cols` printable ASCII cells. */
export function fitFrame(lines: readonly string[], size: ScreenSize): string[] {
  const frame: string[] = [];
  for (let r = 0; r < size.rows; r++) {
    const text = (lines[r] ?? '').replace(/[^\x20-\x7e]/g, '?');
    frame.push(text.length >= size.cols ? text.slice(0, size.cols) : text.padEnd(size.cols));
  }
  return frame;
}
