/**
 * Turns the bytes of the display's serial line into the four keys of the meter (DESIGN §6): arrow up,
 * arrow down, Back (Esc, arrow left, Backspace) and OK (Enter, arrow right), and a printable ASCII
 * character into a typed character (a terminal keyboard on the line types names and passwords
 * directly; the screens that take no text ignore it). Anything else on the line (noise, other escape
 * sequences, bytes outside ASCII) is dropped without a trace; an escape sequence that never ends is
 * given up after a bounded length, so garbage can never make the decoder stuck.
 * Pure: the caller passes `now`, and `flush(now)` reports a lone Esc once no sequence followed it.
 */

export type DisplayKey = 'up' | 'down' | 'back' | 'ok';

/** A printable ASCII character typed on a terminal keyboard. */
export interface TypedChar {
  readonly char: string;
}

/** What the line delivers: one of the four keys, or a typed character. */
export type DisplayInput = DisplayKey | TypedChar;

/** A typed character, or null for one of the four keys. */
export function typedChar(input: DisplayInput): string | null {
  return typeof input === 'string' ? null : input.char;
}

/** How long after Esc a `[` or `O` may still follow to make it an arrow key (as terminals do). */
export const ESC_TIMEOUT_MS = 50;
/** A CSI sequence longer than this is noise: dropped up to its end, and decoding starts again. */
const MAX_SEQUENCE = 16;

const ESC = 0x1b;
const ARROWS: Record<number, DisplayKey> = {
  65: 'up', // A
  66: 'down', // B
  67: 'ok', // C: arrow right
  68: 'back', // D: arrow left
};

type State =
  | { readonly kind: 'ground' }
  | { readonly kind: 'escape'; readonly since: number }
  /** `overlong`: past MAX_SEQUENCE, the rest of the sequence is skipped and its final byte ignored. */
  | { readonly kind: 'csi'; readonly since: number; readonly length: number; readonly overlong?: boolean }
  | { readonly kind: 'ss3'; readonly since: number };

export class KeyDecoder {
  private state: State = { kind: 'ground' };
  /** A CR was the last byte: a following LF belongs to the same Enter. */
  private afterCr = false;

  /** The keys and typed characters that `bytes` complete. */
  feed(bytes: Uint8Array, now: number): DisplayInput[] {
    const keys: DisplayInput[] = this.flush(now);
    for (const byte of bytes) this.byte(byte, now, keys);
    return keys;
  }

  /**
   * A lone Esc older than `ESC_TIMEOUT_MS` is Back; an unfinished sequence that old is noise and
   * dropped (a terminal sends a whole sequence at once), so it cannot swallow a later key.
   */
  flush(now: number): DisplayKey[] {
    if (this.state.kind === 'ground' || now - this.state.since < ESC_TIMEOUT_MS) return [];
    const lone = this.state.kind === 'escape';
    this.state = { kind: 'ground' };
    return lone ? ['back'] : [];
  }

  /** True while a lone Esc waits to be told apart from an arrow key. */
  get pending(): boolean {
    return this.state.kind === 'escape';
  }

  private byte(byte: number, now: number, keys: DisplayInput[]): void {
    const state = this.state;
    switch (state.kind) {
      case 'ground':
        break;
      case 'escape':
        this.state = { kind: 'ground' };
        if (byte === 0x5b) {
          this.state = { kind: 'csi', since: state.since, length: 0 };
          return;
        }
        if (byte === 0x4f) {
          this.state = { kind: 'ss3', since: state.since };
          return;
        }
        // Esc followed by anything else was a lone Esc; the byte stands for itself.
        keys.push('back');
        break;
      case 'csi':
        // Parameters and intermediates (0x20–0x3f) until a final byte (0x40–0x7e). An over-long run is
        // noise: skipped to its end (or until ESC_TIMEOUT_MS passed), so its bytes are not typed text.
        if (byte >= 0x20 && byte <= 0x3f) {
          this.state = { ...state, length: state.length + 1, overlong: state.length + 1 > MAX_SEQUENCE };
          return;
        }
        this.state = { kind: 'ground' };
        if (byte >= 0x40 && byte <= 0x7e) {
          const key = ARROWS[byte];
          if (key && !state.overlong) keys.push(key);
          return;
        }
        // A control byte (or an over-long sequence) ends the sequence and stands for itself.
        break;
      case 'ss3':
        this.state = { kind: 'ground' };
        if (byte >= 0x20) {
          const key = ARROWS[byte];
          if (key) keys.push(key);
          return;
        }
        break;
    }
    this.ground(byte, now, keys);
  }

  private ground(byte: number, now: number, keys: DisplayInput[]): void {
    const afterCr = this.afterCr;
    this.afterCr = false;
    if (byte === ESC) {
      this.state = { kind: 'escape', since: now };
    } else if (byte === 0x0d) {
      keys.push('ok');
      this.afterCr = true;
    } else if (byte === 0x0a) {
      if (!afterCr) keys.push('ok');
    } else if (byte === 0x7f || byte === 0x08) {
      keys.push('back');
    } else if (byte >= 0x20 && byte <= 0x7e) {
      keys.push({ char: String.fromCharCode(byte) });
    }
  }
}
