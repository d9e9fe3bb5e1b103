/**
 * The website's languages: English, German, French and Italian (the markets of such meters). The
 * English text in the source is the key: `t('Log in')` looks it up in the pack of the language shown
 * and falls back to the English. Packs (web/i18n/<code>.json, English → translation) are built into
 * content-hashed assets keyed by a short hash of the English (textKey), fetched only when their
 * language is chosen: English costs nothing, each other language one request. The language comes
 * from the browser (navigator.languages) until the person picks one, which is remembered in this
 * browser. Numbers and dates follow the language.
 * test/web/i18n-packs.test.ts keeps every pack complete: each `t('…')` and `mark('…')` literal of
 * web/src has its translation, and no pack holds a text the page no longer shows.
 */

/** The languages offered, each named in itself. */
export const LANGUAGES = {
  en: 'English',
  de: 'Deutsch',
  fr: 'Français',
  it: 'Italiano',
} as const;

export type Language = keyof typeof LANGUAGES;

/**
 * The hashed asset of each pack, named by the build (scripts/build.mjs): per language, '' for the
 * texts of the first load, and one per lazily loaded part (its module's name) for the texts only it
 * shows, fetched with its code (`needTexts`).
 */
declare const I18N_PACKS: Record<Exclude<Language, 'en'>, Record<string, string>>;

const STORAGE_KEY = 'metergate.language';

let current: Language = 'en';
let pack: Record<string, string> = {};
/** The parts whose texts are shown (loaded in every language switched to); '' is the first load's. */
const needed = new Set<string>(['']);
/** `${language}:${part}` of the packs merged into `pack`. */
const merged = new Set<string>();

async function fetchPack(code: Exclude<Language, 'en'>, part: string): Promise<Record<string, string>> {
  const url = I18N_PACKS[code][part];
  // A part without a text of its own has no pack.
  if (url === undefined) return {};
  const response = await fetch(url);
  if (!response.ok) throw new Error(`language pack ${code}/${part || 'core'}: HTTP ${response.status}`);
  return (await response.json()) as Record<string, string>;
}

/**
 * Fetches the texts of the lazily loaded part `part` in the language shown, if not there yet: `lazy`
 * in ui.tsx calls it with the part's import, so the part renders in the language from the start. A
 * pack that cannot be fetched leaves that part in English (rejected: the caller may say so).
 */
export async function needTexts(part: string): Promise<void> {
  needed.add(part);
  const code = current;
  if (code === 'en' || merged.has(`${code}:${part}`)) return;
  const texts = await fetchPack(code, part);
  // The language may have changed while the pack came: it then loaded every needed part itself.
  if (current !== code) return;
  Object.assign(pack, texts);
  merged.add(`${code}:${part}`);
}

/**
 * `text` in the language shown, with `{name}` filled from `values`. `text` is the English as written
 * in the source: a literal, or a value marked with `mark()` where it is declared.
 */
export function t(text: string, values?: Record<string, string | number>): string {
  const translated = pack[textKey(text)] ?? text;
  if (!values) return translated;
  return translated.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in values ? String(values[name]) : whole,
  );
}

/**
 * The key of `text` in a built pack: FNV-1a over its UTF-16 code units, in base 36 (the build, which
 * computes the same in scripts/build.mjs, refuses two texts with one key). Shorter than the English,
 * so a pack carries little more than its translations.
 */
export function textKey(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return (hash >>> 0).toString(36);
}

/** Marks an English text declared away from where it is shown (a page title) for the packs. */
export const mark = <T extends string>(text: T): T => text;

export const language = (): Language => current;

const isLanguage = (code: string): code is Language => Object.hasOwn(LANGUAGES, code);

/** The first of the browser's languages the site speaks (`de-CH` → `de`), else English. */
export function browserLanguage(preferred: readonly string[]): Language {
  for (const tag of preferred) {
    const code = tag.toLowerCase().split('-')[0] ?? '';
    if (isLanguage(code)) return code;
  }
  return 'en';
}

/** The language to start in: the one picked in this browser before, else the browser's own. */
export function initialLanguage(): Language {
  let stored: string | null = null;
  try {
    stored = localStorage.getItem(STORAGE_KEY);
  } catch {
    // Storage off (a private window with cookies blocked): the browser's language it is.
  }
  return stored && isLanguage(stored) ? stored : browserLanguage(navigator.languages ?? [navigator.language]);
}

/**
 * Shows `code` from now on: fetches its packs, the first load's and those of the parts shown so far
 * (English needs none), sets the document's language and,
 * when `remember`, keeps the choice in this browser. A pack that cannot be loaded leaves the language
 * as it was and throws, so the caller can say so.
 */
export async function setLanguage(code: Language, remember = false): Promise<void> {
  let next: Record<string, string> = {};
  const parts = [...needed];
  if (code !== 'en') {
    next = Object.assign({}, ...(await Promise.all(parts.map((part) => fetchPack(code, part)))));
  }
  pack = next;
  current = code;
  merged.clear();
  for (const part of parts) merged.add(`${code}:${part}`);
  document.documentElement.lang = code;
  if (remember) {
    try {
      localStorage.setItem(STORAGE_KEY, code);
    } catch {
      // Not remembered; shown all the same.
    }
  }
}

/** `value` with `digits` decimals as the language writes numbers (12 345,6 in French). */
export function formatNumber(value: number, digits: number): string {
  return new Intl.NumberFormat(current, {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  }).format(value);
}

/** A date and time as the language writes it, in the browser's time zone. */
export function formatDateTime(date: Date): string {
  return new Intl.DateTimeFormat(current, { dateStyle: 'short', timeStyle: 'medium' }).format(date);
}

/** A time of day as the language writes it. */
export function formatTimeOfDay(date: Date): string {
  return new Intl.DateTimeFormat(current, { timeStyle: 'medium' }).format(date);
}
