/**
 * The display while the store cannot be trusted (safe mode, DESIGN §4): it says so and why, and
 * offers the one way out, the physical-presence factory reset (Back+OK in the first seconds after boot).
 */
import { CONFIRM_FACTORY_RESET, type DisplayScreen, FactoryResetCombo } from './display-app.ts';
import { wrapText } from './display-text.ts';
import type { DisplayKey } from './key-decoder.ts';
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
  private readonly combo: FactoryResetCombo;

  constructor(private readonly deps: SafeModeDisplayDeps) {
    this.combo = new FactoryResetCombo(deps.bootedAt);
  }

  key(key: DisplayKey): void {
    if (this.state === 'busy') return;
    if (this.combo.press(key, this.deps.now(), this.state === 'notice')) {
      this.state = 'confirm';
      return;
    }
    if (this.state === 'failed') this.state = 'notice';
    else if (this.state === 'confirm' && key === 'back') this.state = 'notice';
    else if (this.state === 'confirm' && key === 'ok') {
      this.state = 'busy';
      this.deps.factoryReset().then(
        () => this.onChange(),
        (error: unknown) => {
          this.state = 'failed';
          this.failure = (error as Error).message;
          this.onChange();
        },
      );
    }
  }

  tick(): void {}

  render(): string[] {
    const { cols, rows } = this.deps.size;
    const body = (lines: string[]) => Array.from({ length: rows - 2 }, (_, i) => lines[i] ?? '');
    switch (this.state) {
      case 'notice':
        return [
          'SAFE MODE',
          ...body(
            wrapText(`${this.deps.reason}. Factory reset: Back+OK in the first 10 s after boot.`, cols),
          ),
          'serving nothing',
        ];
      case 'confirm':
        return [
          CONFIRM_FACTORY_RESET.title,
          ...body(wrapText(CONFIRM_FACTORY_RESET.text, cols)),
          'OK:erase  Esc:no',
        ];
      case 'busy':
        return ['', ...body(['', 'Factory reset:', 'erasing...']), ''];
      case 'failed':
        return ['NOT DONE', ...body(wrapText(`Factory reset failed: ${this.failure}`, cols)), 'OK:continue'];
    }
  }
}
