/**
 * Turns the bytes of the display's serial line into the four keys of the meter (DESIGN §6): arrow up,
 * arrow down, Back (Esc, arrow left, Backspace) and OK (Enter, arrow right). Anything else on the line
 * (noise, other escape sequences, typed letters) is dropped without a trace; an escape sequence that
 * never ends is given up after a bounded length, so garbage can never make the decoder stuck.
 * Pure: the caller passes `now`, and `flush(now)` reports a lone Esc once no sequence followed it.
 */

export type DisplayKey = 'up' | 'down' | 'back' | 'ok';

/** How long after Esc a `[` or `O` may still follow to make it an arrow key (as terminals do). */
export const ESC_TIMEOUT_MS = 50;
/** A CSI sequence longer than this is noise: dropped, and decoding starts again. */
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
  | { readonly kind: 'csi'; readonly length: number }
  | { readonly kind: 'ss3' };

export class KeyDecoder {
  private state: State = { kind: 'ground' };
  /** A CR was the last byte: a following LF belongs to the same Enter. */
  private afterCr = false;

  /** The keys that `bytes` complete. */
  feed(bytes: Uint8Array, now: number): DisplayKey[] {
    const keys: DisplayKey[] = this.flush(now);
    for (const byte of bytes) this.byte(byte, now, keys);
    return keys;
  }

  /** A lone Esc older than `ESC_TIMEOUT_MS` is Back. */
  flush(now: number): DisplayKey[] {
    if (this.state.kind === 'escape' && now - this.state.since >= ESC_TIMEOUT_MS) {
      this.state = { kind: 'ground' };
      return ['back'];
    }
    return [];
  }

  /** True while a lone Esc waits to be told apart from an arrow key. */
  get pending(): boolean {
    return this.state.kind === 'escape';
  }

  private byte(byte: number, now: number, keys: DisplayKey[]): void {
    const afterCr = this.afterCr;
    this.afterCr = false;
    switch (this.state.kind) {
      case 'ground':
        break;
      case 'escape':
        if (byte === 0x5b) {
          this.state = { kind: 'csi', length: 0 };
          return;
        }
        if (byte === 0x4f) {
          this.state = { kind: 'ss3' };
          return;
        }
        // Esc followed by anything else was a lone Esc; the byte stands for itself.
        keys.push('back');
        this.state = { kind: 'ground' };
        break;
      case 'csi': {
        // Parameters and intermediates (0x20–0x3f) until a final byte (0x40–0x7e).
        if (byte >= 0x40 && byte <= 0x7e) {
          const key = ARROWS[byte];
          if (key) keys.push(key);
          this.state = { kind: 'ground' };
        } else if (byte < 0x20 || byte > 0x3f || this.state.length + 1 > MAX_SEQUENCE) {
          this.state = { kind: 'ground' };
          if (byte === ESC) this.state = { kind: 'escape', since: now };
        } else {
          this.state = { kind: 'csi', length: this.state.length + 1 };
        }
        return;
      }
      case 'ss3': {
        const key = ARROWS[byte];
        if (key) keys.push(key);
        this.state = { kind: 'ground' };
        return;
      }
    }
    if (byte === ESC) {
      this.state = { kind: 'escape', since: now };
    } else if (byte === 0x0d) {
      keys.push('ok');
      this.afterCr = true;
    } else if (byte === 0x0a) {
      if (!afterCr) keys.push('ok');
    } else if (byte === 0x7f || byte === 0x08) {
      keys.push('back');
    }
  }
}
