/**
 * The display while the store cannot be trusted (safe mode, DESIGN §4): it says so and why, and
 * offers the one way out, the physical-presence factory reset (Back+OK in the first seconds after boot).
 * A reason longer than the screen scrolls with up/down.
 */
import { CONFIRM_FACTORY_RESET, type DisplayScreen, FactoryResetCombo } from './display-app.ts';
import { row, wrapText } from './display-text.ts';
import { type DisplayInput, type DisplayKey, typedChar } from './key-decoder.ts';
import type { ScreenSize } from './screen-renderer.ts';

export interface SafeModeDisplayDeps {
  readonly reason: string;
  readonly size: ScreenSize;
  readonly now: () => number;
  readonly bootedAt: number;
  readonly factoryReset: () => Promise<void>;
}

export class SafeModeDisplay implements DisplayScreen {
  onChange: () => void = () => {};
  private state: 'notice' | 'confirm' | 'busy' | 'failed' = 'notice';
  private failure = '';
  /** The first line shown of a text longer than the screen (up/down scroll it). */
  private offset = 0;
  private readonly combo: FactoryResetCombo;

  constructor(private readonly deps: SafeModeDisplayDeps) {
    this.combo = new FactoryResetCombo(deps.bootedAt);
  }

  key(input: DisplayInput): void {
    if (this.state === 'busy') return;
    if (this.combo.press(input, this.deps.now(), this.state === 'notice')) {
      this.show('confirm');
      return;
    }
    if (typedChar(input) !== null) return;
    const key = input as DisplayKey;
    if (key === 'up' || key === 'down') {
      const max = Math.max(0, this.lines().length - (this.deps.size.rows - 2));
      this.offset = key === 'down' ? Math.min(max, this.offset + 1) : Math.max(0, this.offset - 1);
    } else if (this.state === 'failed') this.show('notice');
    else if (this.state === 'confirm' && key === 'back') this.show('notice');
    else if (this.state === 'confirm' && key === 'ok') {
      this.show('busy');
      this.deps.factoryReset().then(
        () => this.onChange(),
        (error: unknown) => {
          this.failure = (error as Error).message;
          this.show('failed');
          this.onChange();
        },
      );
    }
  }

  tick(): void {}

  render(): string[] {
    const { cols, rows } = this.deps.size;
    const body = rows - 2;
    const lines = this.lines();
    const offset = Math.min(this.offset, Math.max(0, lines.length - body));
    const marks = `${offset > 0 ? '^' : ''}${offset + body < lines.length ? 'v' : ''}`;
    const title = { notice: 'SAFE MODE', confirm: CONFIRM_FACTORY_RESET.title, busy: '', failed: 'NOT DONE' }[
      this.state
    ];
    const footer = {
      notice: 'serving nothing',
      confirm: 'OK:erase  Esc:no',
      busy: '',
      failed: 'OK:continue',
    }[this.state];
    const shown = lines.slice(offset, offset + body);
    return [
      marks ? row(title, marks, cols) : title,
      ...Array.from({ length: body }, (_, i) => shown[i] ?? ''),
      footer,
    ];
  }

  private show(state: SafeModeDisplay['state']): void {
    this.state = state;
    this.offset = 0;
  }

  /** The text of the current state, wrapped; longer than the screen, it scrolls. */
  private lines(): string[] {
    const { cols } = this.deps.size;
    switch (this.state) {
      case 'notice':
        return wrapText(`${this.deps.reason}. Factory reset: Back+OK in the first 10 s after boot.`, cols);
      case 'confirm':
        return wrapText(CONFIRM_FACTORY_RESET.text, cols);
      case 'busy':
        return wrapText('Factory reset: erasing...', cols);
      case 'failed':
        return wrapText(`Factory reset failed: ${this.failure}`, cols);
    }
  }
}
