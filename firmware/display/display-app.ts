/**
 * What the local display shows and how its four keys act (DESIGN §6, after the SINEAX AMx000
 * handbook): measurement images cycled with up/down, a main menu behind OK whose items are hidden or
 * read-only per the menu model, login at the display with the user name and the password entered on
 * the character picker (or typed on a terminal keyboard), settings edited as
 * pending changes and stored after "Store changes?", resets with confirmation, and the two
 * physical-presence functions (clear the whitelist; factory reset with Back+OK in the first 10 s).
 *
 * Every action goes through the shared services as the current principal (`localgui`, or the user
 * logged in here), so the one gate decides. Time comes from `now`; `tick()` applies the timeouts, so
 * tests move a clock instead of waiting. The driver calls `key`, `tick` and `render`; `onChange` asks
 * it to redraw after asynchronous work (a KDF, a store) finished.
 *
 * Every screen is laid out for the display's size: text wraps at word boundaries, names that do not
 * fit are abbreviated with `~`, and a text longer than the screen scrolls with up/down (`^`/`v` in
 * the title row say there is more).
 */

import type { LoginThrottle } from '../auth/login-throttle.ts';
import { isCoreError } from '../core/core-error.ts';
import { checkPassword } from '../core/password-rules.ts';
import { LOCALGUI_SLOT } from '../core/slots.ts';
import type { Actor } from '../core/user-table.ts';
import type { ClientRegistry } from '../services/client-registry.ts';
import { AuthError, type LoginService } from '../services/login-service.ts';
import type { MeteringService } from '../services/metering-service.ts';
import type { RequestContext } from '../services/request-context.ts';
import type { SecurityService } from '../services/security-service.ts';
import {
  newPicker,
  type PickerState,
  pickerFooter,
  pickerLine,
  pressPicker,
  typePicker,
} from './char-picker.ts';
import { field, fit, imageLines, noDataLines, row, wrapText } from './display-text.ts';
import { type DisplayInput, type DisplayKey, typedChar } from './key-decoder.ts';
import {
  type DisplayPrincipal,
  formatSetting,
  type ImageId,
  MAIN_MENU,
  type MeasurementImage,
  type MenuItem,
  type MenuItemId,
  menuItem,
  type SettingField,
  type SettingId,
  type SettingValue,
  settingValue,
  splitChanges,
  visibleImages,
  visibleItems,
} from './menu-model.ts';
import type { ScreenSize } from './screen-renderer.ts';

/** Without a key for this long the display returns to the last measurement image and logs out. */
export const MENU_TIMEOUT_MS = 2 * 60_000;
/** A value entry left alone this long is dropped. */
export const ENTRY_TIMEOUT_MS = 5 * 60_000;
/** "Store changes?" unanswered this long: the changes are stored. */
export const STORE_PROMPT_TIMEOUT_MS = 2 * 60_000;
/** Back+OK within this time after boot offers the factory reset. */
export const BOOT_WINDOW_MS = 10_000;
/** Back at the image and OK within this time count as both keys held together. */
export const COMBO_MS = 300;

export interface DisplayInfo {
  readonly model: string;
  readonly serialNumber: string;
  readonly firmwareVersion: string;
  readonly addresses: readonly string[];
  /** SHA-256 fingerprint of the HTTPS certificate, `AB:CD:…`. */
  readonly certificateFingerprint: string | null;
  /** What is not as the committed state says (boot-device.ts `degraded`), shown first. */
  readonly degraded?: readonly string[];
}

/** The display as the driver sees it: keys in, time passing, text frames out. */
export interface DisplayScreen {
  /** One of the four keys, or a character typed on a terminal keyboard. */
  key(input: DisplayInput): void;
  tick(): void;
  render(): string[];
  onChange: () => void;
}

export interface DisplayAppDeps {
  readonly security: SecurityService;
  readonly metering: MeteringService;
  readonly login: LoginService;
  readonly registry: ClientRegistry;
  /** The display's own failure counter. */
  readonly throttle: LoginThrottle;
  readonly info: () => DisplayInfo;
  readonly now: () => number;
  readonly size: ScreenSize;
  /** When this boot started (for the factory-reset window). */
  readonly bootedAt: number;
  /** Erases the device and boots it again as new. */
  readonly factoryReset: () => Promise<void>;
}

type PasswordPurpose = 'login' | 'current' | 'new' | 'repeat';
type ConfirmAction = 'reset.meters' | 'reset.minmax' | 'security.whitelist' | 'factory-reset';

type Screen =
  | { readonly kind: 'image' }
  | { readonly kind: 'menu'; readonly path: readonly MenuItemId[]; readonly cursor: number }
  | {
      readonly kind: 'entry';
      readonly field: SettingField;
      readonly label: string;
      /** Number entries: the digits, edited one at a time. */
      readonly digits: readonly number[];
      readonly position: number;
      /** Choice entries: the option shown. */
      readonly option: number;
      readonly error?: string;
    }
  | { readonly kind: 'confirm'; readonly action: ConfirmAction; readonly back: Screen }
  | {
      readonly kind: 'store-prompt';
      readonly since: number;
      readonly next: Screen;
      /** Reached by a timeout: the session ends once the answer (or the timeout) is handled. */
      readonly timedOut: boolean;
    }
  /** The user name, typed on the picker: the display lists no names (docs/display.md). */
  | { readonly kind: 'username'; readonly picker: PickerState }
  | {
      readonly kind: 'password';
      readonly purpose: PasswordPurpose;
      readonly username: string;
      readonly picker: PickerState;
      /** The new password, while it is repeated. */
      readonly first?: string;
      /** The default password was used: the new one cannot be skipped. */
      readonly forced: boolean;
    }
  | { readonly kind: 'busy'; readonly text: string }
  | { readonly kind: 'message'; readonly title: string; readonly text: string; readonly next: Screen }
  | { readonly kind: 'info' };

interface DisplaySession {
  readonly slot: number;
  readonly name: string;
  readonly epoch: number;
}

const CONTEXT: RequestContext = { interface: 'display', source: 'display' };
const IMAGE: Screen = { kind: 'image' };
const MAIN: Screen = { kind: 'menu', path: [], cursor: 0 };
const USERNAME: Screen = { kind: 'username', picker: newPicker() };

/** One page of a measurement image: the image's lines that fit the body, `page` of `count`. */
interface ImagePage {
  readonly image: MeasurementImage;
  readonly index: number;
  readonly images: number;
  readonly page: number;
  readonly count: number;
  readonly lines: readonly string[];
}

const CONFIRM_TEXT: Record<ConfirmAction, { title: string; text: string; done: string }> = {
  'reset.meters': {
    title: 'RESET METERS',
    text: 'Reset all energy meters to zero?',
    done: 'Energy meters reset',
  },
  'reset.minmax': { title: 'RESET MIN/MAX', text: 'Reset the min/max values?', done: 'Min/max values reset' },
  'security.whitelist': {
    title: 'CLEAR WHITELIST',
    text: 'Allow every address to connect again?',
    done: 'Whitelist cleared: every address may connect',
  },
  'factory-reset': {
    title: 'FACTORY RESET',
    text: 'Erase all users, keys, certificate and log?',
    done: 'Factory reset done',
  },
};

export const CONFIRM_FACTORY_RESET = CONFIRM_TEXT['factory-reset'];

export class DisplayApp implements DisplayScreen {
  onChange: () => void = () => {};
  private current: Screen = IMAGE;
  /** The first body line shown of a screen that scrolls; every new screen starts at its top. */
  private offset = 0;
  private imageIndex = 0;
  private session: DisplaySession | null = null;
  private readonly pending = new Map<SettingId, SettingValue>();
  private lastKeyAt: number;
  private readonly combo: FactoryResetCombo;

  constructor(private readonly deps: DisplayAppDeps) {
    this.lastKeyAt = deps.now();
    this.combo = new FactoryResetCombo(deps.bootedAt);
  }

  private get screen(): Screen {
    return this.current;
  }

  private set screen(next: Screen) {
    this.offset = 0;
    this.current = next;
  }

  /** The user logged in at the display, if any (for tests and the footer). */
  get loggedIn(): string | null {
    return this.session?.name ?? null;
  }

  key(input: DisplayInput): void {
    const now = this.deps.now();
    this.lastKeyAt = now;
    this.checkSession();
    if (this.combo.press(input, now, this.screen.kind === 'image')) {
      this.screen = { kind: 'confirm', action: 'factory-reset', back: IMAGE };
      return;
    }
    const char = typedChar(input);
    if (char === null) this.handle(input as DisplayKey);
    else this.type(char);
  }

  /** A character from a terminal keyboard: text for the name and password entries, else nothing. */
  private type(char: string): void {
    const s = this.screen;
    if (s.kind === 'username' || s.kind === 'password')
      this.screen = { ...s, picker: typePicker(s.picker, char) };
  }

  tick(): void {
    const now = this.deps.now();
    this.checkSession();
    const idle = now - this.lastKeyAt;
    const screen = this.screen;
    if (screen.kind === 'busy' || (screen.kind === 'image' && !this.session)) return;
    if (screen.kind === 'store-prompt') {
      if (now - screen.since >= STORE_PROMPT_TIMEOUT_MS) this.storeChanges(screen.next, true);
      return;
    }
    if (screen.kind === 'entry') {
      if (idle < ENTRY_TIMEOUT_MS) return;
      // The entry is dropped; changes confirmed before it are not lost.
      this.screen = this.settingsMenu();
      if (this.pending.size > 0) {
        this.screen = { kind: 'store-prompt', since: now, next: IMAGE, timedOut: true };
        return;
      }
    } else if (idle < MENU_TIMEOUT_MS) {
      return;
    }
    if (this.pending.size > 0) {
      this.screen = { kind: 'store-prompt', since: now, next: IMAGE, timedOut: true };
      return;
    }
    this.endSession('timeout');
    this.screen = IMAGE;
  }

  render(): string[] {
    this.checkSession();
    const { cols, rows } = this.deps.size;
    const body = rows - 2;
    const s = this.screen;
    // Lines beyond the body are not cut here: a screen that does not scroll must fit (the layout test).
    const frame = (title: string, lines: readonly string[], footer: string): string[] => [
      title,
      ...lines,
      ...Array.from({ length: Math.max(0, body - lines.length) }, () => ''),
      footer,
    ];
    // A screen that scrolls: the body from `offset`, and `^`/`v` in the title row where there is more.
    const scrolled = (title: string, lines: readonly string[], footer: string): string[] => {
      const offset = Math.min(this.offset, Math.max(0, lines.length - body));
      const marks = `${offset > 0 ? '^' : ''}${offset + body < lines.length ? 'v' : ''}`;
      return frame(marks ? row(title, marks, cols) : title, lines.slice(offset, offset + body), footer);
    };
    switch (s.kind) {
      case 'image': {
        const footer = row(fit(this.principalName(), cols - 8), 'OK:menu', cols);
        const pages = this.imagePages();
        if (pages.length === 0) return frame('METERGATE', wrapText('No values without login', cols), footer);
        const page = pages[Math.min(this.imageIndex, pages.length - 1)] as ImagePage;
        const counter =
          page.count === 1
            ? `${page.index + 1}/${page.images}`
            : `${page.index + 1}.${page.page + 1}/${page.images}`;
        const title =
          page.image.title.length + 1 + counter.length <= cols ? page.image.title : page.image.short;
        return frame(row(title, counter, cols), page.lines, footer);
      }
      case 'menu': {
        const items = this.menuItems(s.path);
        const title =
          s.path.length === 0
            ? 'MENU'
            : menuItem(s.path[s.path.length - 1] as MenuItemId).label.toUpperCase();
        const first = Math.max(0, Math.min(s.cursor - body + 1, items.length - body));
        const lines = items.slice(first, first + body).map(({ item }, i) => {
          const marker = first + i === s.cursor ? '>' : ' ';
          if (!item.setting) return `${marker}${item.label}`;
          const id = item.setting.id;
          const value = this.pending.get(id) ?? settingValue(id, this.settingsView());
          const mark = this.pending.has(id) ? '*' : '';
          const room = cols - item.label.length - 2 - mark.length;
          return row(`${marker}${item.label}`, `${formatSetting(item.setting, value, room)}${mark}`, cols);
        });
        if (items.length === 0) lines.push(' (nothing here)');
        const selected = items[s.cursor];
        const footer = selected?.access === 'read-only' ? 'read only  Esc:back' : 'OK:open  Esc:back';
        const name = this.session ? fit(this.session.name, cols - title.length - 1) : '';
        return frame(row(title, name, cols), lines, footer);
      }
      case 'entry': {
        let lines: string[];
        if (s.field.kind === 'choice') {
          const choice = `  < ${s.field.options[s.option]?.label ?? ''} >`;
          lines = body >= 4 ? ['', choice] : [choice];
        } else {
          const digits = `  ${s.digits.join('')}`;
          const caret = `  ${' '.repeat(s.position)}^`;
          const range = `${s.field.min}-${s.field.max}`;
          const error = s.error ? wrapText(s.error, cols) : [];
          lines =
            body >= 4 + error.length
              ? ['', digits, caret, `range ${range}`, ...error]
              : [row(digits, range, cols), ...(error.length > 0 ? error : [caret])];
        }
        const footer = s.field.kind === 'number' ? 'Up/Dn:digit OK:next' : 'Up/Dn:change OK:set';
        return frame(s.label.toUpperCase(), lines, footer);
      }
      case 'confirm':
        return scrolled(
          CONFIRM_TEXT[s.action].title,
          this.scrollLines(),
          s.action === 'factory-reset' ? 'OK:erase  Esc:no' : 'OK:yes  Esc:no',
        );
      case 'store-prompt':
        return scrolled('SETTINGS', this.scrollLines(), 'OK:store Esc:discard');
      case 'username':
        return frame(
          'LOG IN: USER',
          this.entryLines('name:', s.picker.text, s.picker),
          pickerFooter(s.picker),
        );
      case 'password': {
        const title = {
          login: 'PASSWORD',
          current: 'CURRENT PASSWORD',
          new: 'NEW PASSWORD',
          repeat: 'REPEAT PASSWORD',
        }[s.purpose];
        const masked = '*'.repeat(s.picker.text.length);
        return frame(title, this.entryLines(fit(s.username, cols), masked, s.picker), pickerFooter(s.picker));
      }
      case 'busy': {
        const lines = wrapText(s.text, cols);
        return frame('', lines.length < body ? ['', ...lines] : lines, '');
      }
      case 'message':
        return scrolled(s.title, this.scrollLines(), 'OK:continue');
      case 'info':
        return scrolled('INFO', this.scrollLines(), 'Up/Dn:more Esc:back');
    }
  }

  /**
   * A name or password entry: `context` (what is entered, for whom), the text so far (its end, marked
   * `<`, when longer than a line), the picker. On four rows only the text and the picker.
   */
  private entryLines(context: string, text: string, picker: PickerState): string[] {
    const { cols, rows } = this.deps.size;
    const shown = text.length <= cols - 1 ? `>${text}` : `<${text.slice(text.length - (cols - 1))}`;
    const line = pickerLine(picker, cols);
    return rows - 2 >= 4 ? [context, shown, '', line] : [shown, line];
  }

  /** The measurement images the principal may see, each cut into pages of the body's height. */
  private imagePages(): ImagePage[] {
    const { cols, rows } = this.deps.size;
    const body = rows - 2;
    const images = visibleImages(this.principal());
    const status = this.deps.metering.status();
    return images.flatMap((image, index) => {
      const lines =
        status.state === 'fresh' ? this.imageValues(image.id, cols) : noDataLines(status, cols, body);
      const count = Math.max(1, Math.ceil(lines.length / body));
      return Array.from({ length: count }, (_, page) => ({
        image,
        index,
        images: images.length,
        page,
        count,
        lines: lines.slice(page * body, (page + 1) * body),
      }));
    });
  }

  /** The values of an image, read for the principal through the checked readers. */
  private imageValues(id: ImageId, cols: number): string[] {
    const actor = this.actor();
    const values =
      id === 'energy'
        ? { meters: this.deps.metering.meters(actor, CONTEXT) }
        : { measurements: this.deps.metering.measurements(actor, CONTEXT) };
    return imageLines(id, values, cols);
  }

  private handle(key: DisplayKey): void {
    const s = this.screen;
    switch (s.kind) {
      case 'image': {
        const count = this.imagePages().length;
        if (key === 'ok') this.screen = MAIN;
        else if (count > 0 && key === 'down')
          this.imageIndex = (Math.min(this.imageIndex, count - 1) + 1) % count;
        else if (count > 0 && key === 'up')
          this.imageIndex = (Math.min(this.imageIndex, count - 1) + count - 1) % count;
        return;
      }
      case 'menu':
        this.handleMenu(s, key);
        return;
      case 'entry':
        this.handleEntry(s, key);
        return;
      case 'confirm':
        if (key === 'back') this.screen = s.back;
        else if (key === 'ok') this.confirm(s.action, s.back);
        else this.scroll(key);
        return;
      case 'store-prompt':
        if (key === 'up' || key === 'down') this.scroll(key);
        else if (key === 'ok') this.storeChanges(s.next, s.timedOut);
        else if (key === 'back') {
          this.pending.clear();
          if (s.timedOut) this.endSession('timeout');
          this.screen = { kind: 'message', title: 'SETTINGS', text: 'Changes discarded', next: s.next };
        }
        return;
      case 'username': {
        const result = pressPicker(s.picker, key);
        if (result.kind === 'leave') this.screen = this.securityMenu();
        else if (result.kind === 'edit') this.screen = { ...s, picker: result.state };
        // The name is not looked up here: an unknown one is refused with the password, in the same words.
        else if (result.text.length > 0) this.screen = passwordScreen('login', result.text, false);
        return;
      }
      case 'password':
        this.handlePassword(s, key);
        return;
      case 'busy':
        return;
      case 'message':
        if (key === 'ok' || key === 'back') this.screen = s.next;
        else this.scroll(key);
        return;
      case 'info':
        if (key === 'back' || key === 'ok') this.screen = MAIN;
        else this.scroll(key);
        return;
    }
  }

  /** Up/down on a screen that scrolls; render() keeps the offset inside the text. */
  private scroll(key: 'up' | 'down'): void {
    const max = Math.max(0, this.scrollLines().length - (this.deps.size.rows - 2));
    this.offset = key === 'down' ? Math.min(max, this.offset + 1) : Math.max(0, this.offset - 1);
  }

  /** The whole text of a screen that scrolls (none for the others). */
  private scrollLines(): string[] {
    const { cols } = this.deps.size;
    const s = this.screen;
    switch (s.kind) {
      case 'confirm':
        return wrapText(CONFIRM_TEXT[s.action].text, cols);
      case 'store-prompt':
        return [
          'Store changes?',
          ...[...this.pending].flatMap(([id, value]) => {
            const item = menuItem(`settings.${id}`);
            return field(` ${item.label}`, formatSetting(item.setting as SettingField, value), cols);
          }),
        ];
      case 'message':
        return wrapText(s.text, cols);
      case 'info':
        return this.infoLines();
      default:
        return [];
    }
  }

  private handleMenu(s: Extract<Screen, { kind: 'menu' }>, key: DisplayKey): void {
    const items = this.menuItems(s.path);
    if (key === 'up' || key === 'down') {
      this.screen = { ...s, cursor: step(s.cursor, key, items.length) };
      return;
    }
    if (key === 'back') {
      const leaving = s.path[s.path.length - 1];
      const parent = s.path.slice(0, -1);
      const back: Screen =
        s.path.length === 0 ? IMAGE : { kind: 'menu', path: parent, cursor: this.indexIn(parent, leaving) };
      if (leaving === 'settings' && this.pending.size > 0) {
        this.screen = { kind: 'store-prompt', since: this.deps.now(), next: back, timedOut: false };
      } else {
        this.screen = back;
      }
      return;
    }
    const selected = items[Math.min(s.cursor, items.length - 1)];
    if (!selected) return;
    const { item, access } = selected;
    if (item.children) {
      this.screen = { kind: 'menu', path: [...s.path, item.id], cursor: 0 };
      return;
    }
    if (item.setting) {
      if (access === 'read-only') {
        this.screen = {
          kind: 'message',
          title: item.label.toUpperCase(),
          text: `Read only: changing it needs ${item.edit}`,
          next: s,
        };
      } else {
        this.screen = this.entryFor(item);
      }
      return;
    }
    switch (item.id) {
      case 'measurements':
        this.imageIndex = 0;
        this.screen = IMAGE;
        return;
      case 'meters':
        this.imageIndex = Math.max(
          0,
          visibleImages(this.principal()).findIndex((image) => image.id === 'energy'),
        );
        this.screen = IMAGE;
        return;
      case 'reset.meters':
      case 'reset.minmax':
      case 'security.whitelist':
        this.screen = { kind: 'confirm', action: item.id, back: s };
        return;
      case 'security.login':
        this.screen = USERNAME;
        return;
      case 'security.registry':
        this.run(
          'Opening...',
          async () => {
            const { closesAt } = this.deps.registry.open(this.actor(), CONTEXT);
            const minutes = Math.round(((closesAt ?? 0) - this.deps.now()) / 60_000);
            return {
              kind: 'message',
              title: 'REGISTRATION',
              text: `Client registration open for ${minutes} minutes`,
              next: s,
            };
          },
          () => s,
        );
        return;
      case 'security.logout':
        this.logout('Logged out');
        return;
      case 'security.password':
        if (this.session) this.screen = passwordScreen('current', this.session.name, false);
        return;
      case 'info':
        this.screen = { kind: 'info' };
        return;
    }
  }

  private entryFor(item: MenuItem): Screen {
    const field = item.setting as SettingField;
    const value = this.pending.get(field.id) ?? settingValue(field.id, this.settingsView());
    if (field.kind === 'number') {
      const clamped = Math.min(Math.max(Math.round(Number(value)), 0), 10 ** field.digits - 1);
      const digits = String(clamped).padStart(field.digits, '0').split('').map(Number);
      return { kind: 'entry', field, label: item.label, digits, position: 0, option: 0 };
    }
    const option = Math.max(
      0,
      field.options.findIndex((o) => o.value === value),
    );
    return { kind: 'entry', field, label: item.label, digits: [], position: 0, option };
  }

  private handleEntry(s: Extract<Screen, { kind: 'entry' }>, key: DisplayKey): void {
    const field = s.field;
    if (field.kind === 'choice') {
      if (key === 'back') this.screen = this.settingsMenu(field.id);
      else if (key === 'up' || key === 'down') {
        const n = field.options.length;
        this.screen = { ...s, option: (s.option + (key === 'down' ? 1 : n - 1)) % n };
      } else this.setPending(field.id, (field.options[s.option] as { value: SettingValue }).value);
      return;
    }
    if (key === 'up' || key === 'down') {
      const digits = [...s.digits];
      digits[s.position] = ((digits[s.position] as number) + (key === 'up' ? 1 : 9)) % 10;
      this.screen = { ...s, digits, error: undefined };
    } else if (key === 'back') {
      this.screen = s.position === 0 ? this.settingsMenu(field.id) : { ...s, position: s.position - 1 };
    } else if (s.position < field.digits - 1) {
      this.screen = { ...s, position: s.position + 1 };
    } else {
      const value = Number(s.digits.join(''));
      if (value < field.min || value > field.max) {
        this.screen = { ...s, position: 0, error: `must be ${field.min} to ${field.max}` };
      } else {
        this.setPending(field.id, value);
      }
    }
  }

  private setPending(id: SettingId, value: SettingValue): void {
    if (settingValue(id, this.settingsView()) === value) this.pending.delete(id);
    else this.pending.set(id, value);
    this.screen = this.settingsMenu(id);
  }

  private handlePassword(s: Extract<Screen, { kind: 'password' }>, key: DisplayKey): void {
    const result = pressPicker(s.picker, key);
    if (result.kind === 'edit') {
      this.screen = { ...s, picker: result.state };
      return;
    }
    if (result.kind === 'leave') {
      if (s.forced) this.logout('Logged out: a new password is required');
      else if (s.purpose === 'login') this.screen = USERNAME;
      else this.screen = this.securityMenu();
      return;
    }
    const text = result.text;
    switch (s.purpose) {
      case 'login':
        this.run(
          'Checking password...',
          async () => {
            const slot = await this.deps.login.verifyLocalPassword(
              s.username,
              text,
              this.deps.throttle,
              CONTEXT,
            );
            this.session = {
              slot,
              name: s.username,
              epoch: this.deps.security.state.table.epochs[slot] ?? 0,
            };
            this.pending.clear();
            const actor = this.deps.security.actorFor(slot);
            return actor.mustChangePassword
              ? passwordScreen('new', s.username, true)
              : { kind: 'message', title: 'LOG IN', text: `Logged in as ${s.username}`, next: MAIN };
          },
          () => USERNAME,
          describeLoginError,
        );
        return;
      case 'current':
        this.run(
          'Checking password...',
          async () => {
            await this.deps.login.verifyLocalPassword(
              s.username,
              text,
              this.deps.throttle,
              CONTEXT,
              'password.proof',
            );
            return passwordScreen('new', s.username, false);
          },
          () => this.securityMenu(),
        );
        return;
      case 'new':
        try {
          // The rules are checked before the repetition, so a refused password is not entered twice.
          checkPassword(text, {
            username: s.username,
            minLength: this.deps.security.state.settings.passwordMinLength,
          });
        } catch (error) {
          this.screen = {
            kind: 'message',
            title: 'NEW PASSWORD',
            text: describeError(error),
            next: passwordScreen('new', s.username, s.forced),
          };
          return;
        }
        this.screen = { ...passwordScreen('repeat', s.username, s.forced), first: text };
        return;
      case 'repeat': {
        const retry = passwordScreen('new', s.username, s.forced);
        if (text !== s.first) {
          this.screen = {
            kind: 'message',
            title: 'NEW PASSWORD',
            text: 'The two passwords differ. Enter it again.',
            next: retry,
          };
          return;
        }
        const session = this.session;
        if (!session) return;
        const password = text;
        this.run(
          'Storing password...',
          async () => {
            await this.deps.security.changeOwnPassword(
              this.deps.security.actorFor(session.slot),
              true,
              password,
              CONTEXT,
            );
            // The password change moved the slot's epoch: this display session goes on with the new one.
            this.session = { ...session, epoch: this.deps.security.state.table.epochs[session.slot] ?? 0 };
            return { kind: 'message', title: 'NEW PASSWORD', text: 'Password changed', next: MAIN };
          },
          () => retry,
        );
        return;
      }
    }
  }

  private confirm(action: ConfirmAction, back: Screen): void {
    const done = (): Screen => ({
      kind: 'message',
      title: CONFIRM_TEXT[action].title,
      text: CONFIRM_TEXT[action].done,
      next: back,
    });
    switch (action) {
      case 'reset.meters':
      case 'reset.minmax':
        this.run(
          'Resetting...',
          async () => {
            if (action === 'reset.meters') this.deps.metering.resetMeters(this.actor(), CONTEXT);
            else this.deps.metering.resetMinMax(this.actor(), CONTEXT);
            return done();
          },
          () => back,
        );
        return;
      case 'security.whitelist':
        this.run(
          'Clearing...',
          async () => {
            const { settings } = this.deps.security.state;
            await this.deps.security.updateSettings(this.actor(), { ...settings, whitelist: [] }, CONTEXT);
            return done();
          },
          () => back,
        );
        return;
      case 'factory-reset':
        this.run(
          'Factory reset: erasing...',
          async () => {
            await this.deps.factoryReset();
            return done();
          },
          () => IMAGE,
        );
        return;
    }
  }

  /** Stores the pending changes as the current principal; `endSession` after a timeout. */
  private storeChanges(next: Screen, endSession: boolean): void {
    const changes = splitChanges(this.pending);
    const actor = this.actor();
    this.pending.clear();
    if (endSession) this.endSession('timeout');
    this.run(
      'Storing...',
      async () => {
        if (Object.keys(changes.config).length > 0)
          this.deps.metering.updateConfig(actor, changes.config, CONTEXT);
        if (Object.keys(changes.communication).length > 0)
          await this.deps.security.updateCommunication(actor, changes.communication, CONTEXT);
        if (Object.keys(changes.security).length > 0) {
          const settings = this.deps.security.state.settings;
          await this.deps.security.updateSettings(actor, { ...settings, ...changes.security }, CONTEXT);
        }
        return { kind: 'message', title: 'SETTINGS', text: 'Changes stored', next };
      },
      () => next,
    );
  }

  /** Shows `text` while `work` runs, then its screen, or the error in words and then `onError()`. */
  private run(
    text: string,
    work: () => Promise<Screen>,
    onError: () => Screen,
    describe: (error: unknown) => string = describeError,
  ): void {
    this.screen = { kind: 'busy', text };
    work().then(
      (next) => {
        this.screen = next;
        this.lastKeyAt = this.deps.now();
        this.onChange();
      },
      (error: unknown) => {
        this.screen = { kind: 'message', title: 'NOT DONE', text: describe(error), next: onError() };
        this.lastKeyAt = this.deps.now();
        this.onChange();
      },
    );
  }

  private logout(text: string, reason?: string): void {
    this.endSession(reason);
    this.pending.clear();
    this.screen = { kind: 'message', title: 'LOG OUT', text, next: IMAGE };
  }

  private endSession(reason?: string): void {
    if (this.session) {
      this.deps.security.record({
        type: 'logout',
        ...CONTEXT,
        slot: this.session.slot,
        result: 'ok',
        detail: reason,
      });
    }
    this.session = null;
  }

  /** A session whose user was removed, or whose password or rights changed elsewhere, ends. */
  private checkSession(): void {
    const session = this.session;
    if (!session) return;
    const { table } = this.deps.security.state;
    const entry = table.slots[session.slot];
    if (
      entry?.type !== 'user' ||
      entry.name !== session.name ||
      table.epochs[session.slot] !== session.epoch
    ) {
      if (this.screen.kind === 'busy') return;
      this.logout('Logged out: the account was changed', 'account changed');
    }
  }

  private actor(): Actor {
    return this.deps.security.actorFor(this.session ? this.session.slot : LOCALGUI_SLOT);
  }

  private principal(): DisplayPrincipal {
    return { ...this.actor(), loggedIn: this.session !== null };
  }

  private principalName(): string {
    return this.session?.name ?? 'localgui';
  }

  private menuItems(path: readonly MenuItemId[]) {
    const group =
      path.length === 0 ? MAIN_MENU : (menuItem(path[path.length - 1] as MenuItemId).children ?? []);
    return visibleItems(group, this.principal());
  }

  private indexIn(path: readonly MenuItemId[], id: MenuItemId | undefined): number {
    return Math.max(
      0,
      this.menuItems(path).findIndex(({ item }) => item.id === id),
    );
  }

  private settingsMenu(id?: SettingId): Screen {
    return {
      kind: 'menu',
      path: ['settings'],
      cursor: id ? this.indexIn(['settings'], `settings.${id}`) : 0,
    };
  }

  private securityMenu(): Screen {
    return { kind: 'menu', path: ['security'], cursor: 0 };
  }

  private settingsView() {
    return {
      config: this.deps.metering.config,
      communication: this.deps.security.state.settings.communication,
      http: this.deps.security.state.settings.http,
    };
  }

  private infoLines(): string[] {
    const info = this.deps.info();
    const { cols } = this.deps.size;
    const fingerprint = info.certificateFingerprint;
    // Whole byte pairs per line, so the fingerprint reads like it does in a browser.
    const perLine = Math.max(1, Math.floor((cols + 1) / 3));
    const pairs = fingerprint ? fingerprint.split(':') : [];
    const chunks: string[] = [];
    for (let i = 0; i < pairs.length; i += perLine) chunks.push(pairs.slice(i, i + perLine).join(':'));
    const degraded = info.degraded ?? [];
    return [
      ...(degraded.length > 0
        ? ['DEGRADED:', ...degraded.flatMap((text) => wrapText(text, cols - 1).map((line) => ` ${line}`))]
        : []),
      ...field('Model', info.model, cols),
      ...field('Serial', info.serialNumber, cols),
      ...field('Firmware', info.firmwareVersion, cols),
      'IP addresses:',
      ...(info.addresses.length > 0
        ? info.addresses.flatMap((a) => wrapText(a, cols - 1).map((line) => ` ${line}`))
        : [' none']),
      'HTTPS SHA-256:',
      ...(chunks.length > 0 ? chunks : [' none']),
    ];
  }
}

/**
 * Back and OK "held together" during the first seconds after boot. A serial line carries key presses,
 * not key states, so together means: Back at the measurement image (where it does nothing else), then
 * OK within COMBO_MS. Ordinary navigation never makes that sequence.
 */
export class FactoryResetCombo {
  private backAt: number | null = null;

  constructor(private readonly bootedAt: number) {}

  /** True when this press completes the combination inside the boot window. */
  press(key: DisplayInput, now: number, atImage: boolean): boolean {
    const backAt = this.backAt;
    this.backAt = null;
    if (now - this.bootedAt > BOOT_WINDOW_MS) return false;
    if (key === 'back' && atImage) this.backAt = now;
    return key === 'ok' && backAt !== null && now - backAt <= COMBO_MS;
  }
}

function passwordScreen(
  purpose: PasswordPurpose,
  username: string,
  forced: boolean,
): Extract<Screen, { kind: 'password' }> {
  return { kind: 'password', purpose, username, picker: newPicker(), forced };
}

function step(cursor: number, key: 'up' | 'down', count: number): number {
  if (count === 0) return 0;
  return (cursor + (key === 'down' ? 1 : count - 1)) % count;
}

/**
 * A failed display login in words: the same for an unknown name and a wrong password, since the
 * display does not tell which names exist.
 */
function describeLoginError(error: unknown): string {
  if (error instanceof AuthError && error.code === 'invalid-credentials') return 'Wrong name or password';
  return describeError(error);
}

/** An error in words for the operator. */
export function describeError(error: unknown): string {
  if (error instanceof AuthError) {
    if (error.code === 'invalid-credentials') return 'Wrong password';
    const seconds = Math.ceil((error.retryAfterMs ?? 0) / 1000);
    return error.code === 'locked'
      ? `Too many failures: locked for ${seconds} s`
      : `Too many failures: wait ${seconds} s`;
  }
  if (isCoreError(error)) {
    if (error.code === 'permission-denied') return `Not allowed: needs ${error.details.permission}`;
    return error.message.charAt(0).toUpperCase() + error.message.slice(1);
  }
  return `Failed: ${(error as Error).message ?? String(error)}`;
}
