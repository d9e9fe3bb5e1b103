/**
 * The display adapter: joins a `DisplayPort` (a serial line, a pty or the console) to the screen the
 * device shows. Bytes from the line become keys (KeyDecoder), the screen's frames become ANSI output
 * with only the changed cells redrawn (ScreenRenderer), and a timer ticks the screen for its timeouts
 * and live values. Nothing a line sends can crash the device: a screen error is logged, not thrown.
 * A terminal attached late, or one that lost bytes to line noise, is repainted whole every
 * FULL_REDRAW_MS, or at once on Ctrl-L as terminals do.
 */
import type { DisplayScreen } from './display-app.ts';
import { ESC_TIMEOUT_MS, KeyDecoder } from './key-decoder.ts';
import { ScreenRenderer, type ScreenSize } from './screen-renderer.ts';

/** Every cell is sent again this often, so a terminal never shows a stale frame for long. */
export const FULL_REDRAW_MS = 10_000;
/** Ctrl-L: repaint now. */
const REPAINT = 0x0c;

/** Where the display is drawn and its keys read: serial line, pty or console. */
export interface DisplayPort {
  write(text: string): void;
  onData(listener: (bytes: Uint8Array) => void): void;
  close(): Promise<void>;
}

export interface DisplayDriverOptions {
  readonly size: ScreenSize;
  /** Where the frame's top-left cell is on the terminal (1-based). Default 1,1. */
  readonly origin?: { readonly row: number; readonly col: number };
  readonly now: () => number;
  readonly log: (message: string) => void;
  /** How often timeouts are checked and live values redrawn. Default 500 ms. */
  readonly tickMs?: number;
}

export class DisplayDriver {
  private screen: DisplayScreen | null = null;
  private readonly decoder = new KeyDecoder();
  private readonly renderer: ScreenRenderer;
  private readonly timer: NodeJS.Timeout;
  private escapeTimer: NodeJS.Timeout | null = null;
  private lastError = '';
  private lastFullRedraw = 0;

  constructor(
    private readonly port: DisplayPort,
    private readonly options: DisplayDriverOptions,
  ) {
    this.renderer = new ScreenRenderer(options.size, options.origin);
    port.onData((bytes) => this.receive(bytes));
    this.timer = setInterval(() => this.tick(), options.tickMs ?? 500);
    this.timer.unref();
  }

  /** Shows `screen` (a new boot's, after a factory reset), or nothing. */
  show(screen: DisplayScreen | null): void {
    if (this.screen) this.screen.onChange = () => {};
    this.screen = screen;
    if (screen) screen.onChange = () => this.draw();
    this.draw();
  }

  /** Stops the timer and closes the port. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    if (this.escapeTimer) clearTimeout(this.escapeTimer);
    this.show(null);
    await this.port.close();
  }

  private receive(bytes: Uint8Array): void {
    if (bytes.includes(REPAINT)) this.renderer.invalidate();
    this.guard(() => {
      for (const key of this.decoder.feed(bytes, this.options.now())) this.screen?.key(key);
      if (this.decoder.pending && !this.escapeTimer) {
        // A lone Esc is Back once no arrow-key sequence follows it.
        this.escapeTimer = setTimeout(() => {
          this.escapeTimer = null;
          this.guard(() => {
            for (const key of this.decoder.flush(this.options.now() + ESC_TIMEOUT_MS)) this.screen?.key(key);
          });
          this.draw();
        }, ESC_TIMEOUT_MS);
      }
    });
    this.draw();
  }

  /** Timeouts and live values. */
  tick(): void {
    const now = this.options.now();
    if (Math.abs(now - this.lastFullRedraw) >= FULL_REDRAW_MS) {
      this.lastFullRedraw = now;
      this.renderer.invalidate();
    }
    this.guard(() => this.screen?.tick());
    this.draw();
  }

  private draw(): void {
    this.guard(() => {
      if (!this.screen) return;
      const out = this.renderer.render(this.screen.render());
      if (out) this.port.write(out);
    });
  }

  private guard(action: () => void): void {
    try {
      action();
    } catch (error) {
      const message = (error as Error).message ?? String(error);
      // The same failure on every tick is logged once.
      if (message !== this.lastError) this.options.log(`display: ${message}`);
      this.lastError = message;
    }
  }
}
