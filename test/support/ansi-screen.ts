/**
 * A terminal screen model for tests: feeds the ANSI/VT100 stream a display driver writes and keeps the
 * character cells, as a serial terminal would show them. Knows what the driver and the console port
 * emit (cursor position, clear screen and line, save/restore cursor, scroll region, SGR, cursor
 * visibility); anything else is consumed and ignored, so a stray sequence cannot desynchronise it.
 */

export class AnsiScreen {
  private cells: string[][];
  private row = 0;
  private col = 0;
  private saved = { row: 0, col: 0 };
  private pending = '';
  /** Every byte fed so far, for assertions on the amount of output. */
  bytes = 0;

  constructor(
    readonly cols: number,
    readonly rows: number,
  ) {
    this.cells = blank(cols, rows);
  }

  feed(text: string): void {
    this.bytes += Buffer.byteLength(text, 'latin1');
    let data = this.pending + text;
    this.pending = '';
    while (data.length > 0) {
      const ch = data[0] as string;
      if (ch === '\x1b') {
        const consumed = this.escape(data);
        if (consumed === 0) {
          this.pending = data;
          return;
        }
        data = data.slice(consumed);
        continue;
      }
      data = data.slice(1);
      if (ch === '\r') this.col = 0;
      else if (ch === '\n') this.row = Math.min(this.rows - 1, this.row + 1);
      else if (ch >= ' ') {
        if (this.col < this.cols) (this.cells[this.row] as string[])[this.col] = ch;
        this.col = Math.min(this.cols, this.col + 1);
      }
    }
  }

  /** The screen's rows, trailing spaces removed. */
  lines(): string[] {
    return this.cells.map((cells) => cells.join('').trimEnd());
  }

  /** The screen as one string, rows joined by newlines. */
  text(): string {
    return this.lines().join('\n');
  }

  /** Consumes one escape sequence at the start of `data`; 0 when it is not complete yet. */
  private escape(data: string): number {
    if (data.length < 2) return 0;
    const kind = data[1];
    if (kind === '7') {
      this.saved = { row: this.row, col: this.col };
      return 2;
    }
    if (kind === '8') {
      ({ row: this.row, col: this.col } = this.saved);
      return 2;
    }
    if (kind !== '[') return 2;
    const match = /^\[([?0-9;]*)([\x20-\x2f]*)([\x40-\x7e])/.exec(data.slice(1));
    if (!match) return data.length > 32 ? 2 : 0;
    const [whole, params = '', , final] = match;
    const numbers = params
      .replace('?', '')
      .split(';')
      .map((p) => (p === '' ? undefined : Number(p)));
    switch (final) {
      case 'H':
      case 'f':
        this.row = clamp((numbers[0] ?? 1) - 1, this.rows - 1);
        this.col = clamp((numbers[1] ?? 1) - 1, this.cols - 1);
        break;
      case 'J':
        if ((numbers[0] ?? 0) === 2) this.cells = blank(this.cols, this.rows);
        break;
      case 'K':
        for (let c = this.col; c < this.cols; c++) (this.cells[this.row] as string[])[c] = ' ';
        break;
      case 'r':
        this.row = 0;
        this.col = 0;
        break;
      default:
        break;
    }
    return 1 + whole.length;
  }
}

function blank(cols: number, rows: number): string[][] {
  return Array.from({ length: rows }, () => new Array<string>(cols).fill(' '));
}

function clamp(value: number, max: number): number {
  return Math.max(0, Math.min(max, value));
}
