/**
 * The device's refusals in words a person reads next to the field they concern. The REST API names
 * the wrong field (`measurement.vtRatio`, `whitelist[2]`) and says what is wrong in its own terms: a
 * schema's "Too small: expected number to be >=1", or a rule's sentence ("'x' is not an IPv4/IPv6
 * address or CIDR range"). Each known form is matched here and rewritten from MESSAGES, the one table
 * of the sentences the page shows, each translated into the language shown (web/src/i18n.ts). A
 * message of no known form is shown as the device wrote it.
 */

import { mark, t } from './i18n.ts';

/** Every sentence the page makes of a refusal, in English; `{0}`, `{1}` are filled in. */
export const MESSAGES = {
  atLeast: mark('Enter {0} or more.'),
  moreThan: mark('Enter more than {0}.'),
  atMost: mark('Enter {0} or less.'),
  lessThan: mark('Enter less than {0}.'),
  atLeastCharacters: mark('Enter at least {0} characters.'),
  atMostCharacters: mark('Enter at most {0} characters.'),
  empty: mark('Fill this in.'),
  tooFewEntries: mark('Too few entries: at least {0}.'),
  tooManyEntries: mark('Too many entries: at most {0}.'),
  number: mark('Enter a number.'),
  wholeNumber: mark('Enter a whole number.'),
  text: mark('Enter text.'),
  choice: mark('Choose one of the offered values.'),
  oneOf: mark('Choose one of: {0}.'),
  invalid: mark('This value is not accepted.'),
  notAddress: mark("'{0}' is not an IP address or network (such as 192.168.1.10 or 192.168.1.0/24)."),
  notHostName: mark("'{0}' is not a host name (letters, digits, '-' and '.') or an IP address."),
  wholeNumberRange: mark('Enter a whole number from {0} to {1}.'),
  occupiedSlot: mark('Choose an entry of the user table.'),
  entry: mark('Entry {0}: {1}'),
  unknownField: mark('The meter does not know the setting {0}: reload the page.'),
  nothingChanged: mark('Nothing to save: no setting was changed.'),
} as const;

export type MessageId = keyof typeof MESSAGES;

export function say(id: MessageId, ...values: (string | number)[]): string {
  return t(MESSAGES[id], Object.fromEntries(values.map((value, i) => [i, value])));
}

/** `whitelist[2]` and `whitelist.2` both as `whitelist.2`: one form for every page to match on. */
export function fieldPath(field: string | undefined): string | undefined {
  return field?.replace(/\[(\d+)\]/g, '.$1');
}

/** [pattern of the device's wording, the sentence made of its captures]. First match wins. */
const FORMS: [RegExp, (...captures: string[]) => string][] = [
  [/^Too small: expected (?:number|int|bigint) to be >=(.+)$/, (n) => say('atLeast', n)],
  [/^Too small: expected (?:number|int|bigint) to be >(.+)$/, (n) => say('moreThan', n)],
  [/^Too big: expected (?:number|int|bigint) to be <=(.+)$/, (n) => say('atMost', n)],
  [/^Too big: expected (?:number|int|bigint) to be <(.+)$/, (n) => say('lessThan', n)],
  [/^Too small: expected string to have >=1 characters?$/, () => say('empty')],
  [/^Too small: expected string to have >=?(\d+) characters?$/, (n) => say('atLeastCharacters', n)],
  [/^Too big: expected string to have <=?(\d+) characters?$/, (n) => say('atMostCharacters', n)],
  [/^Too small: expected (?:array|set) to have >=?(\d+) items?$/, (n) => say('tooFewEntries', n)],
  [/^Too big: expected (?:array|set) to have <=?(\d+) items?$/, (n) => say('tooManyEntries', n)],
  [/^Invalid input: expected int, received .*$/, () => say('wholeNumber')],
  [/^Invalid input: expected number, received .*$/, () => say('number')],
  [/^Invalid input: expected string, received .*$/, () => say('text')],
  [/^Invalid input: expected \w+, received undefined$/, () => say('empty')],
  [
    /^Invalid option: expected one of (.+)$/,
    (list) => say('oneOf', list.replace(/"/g, '').split('|').join(', ')),
  ],
  [/^Invalid input: expected .+$/, () => say('choice')],
  [/^Invalid (?:input|string|format).*$/, () => say('invalid')],
  [/^'(.*)' is not an IPv4\/IPv6 address or CIDR range$/, (entry) => say('notAddress', entry)],
  [/^'(.*)' is not a host name .*$/, (name) => say('notHostName', name)],
  [/^must be a whole number from (\S+) to (\S+)$/, (a, b) => say('wholeNumberRange', a, b)],
  [/^must name an occupied slot/, () => say('occupiedSlot')],
  [/^unknown field: (.+)$/, (field) => say('unknownField', field)],
];

/**
 * The device's `message` about `field` as the page shows it next to that field: without the field's
 * name in front, rewritten when its form is known, and for one entry of a list (`whitelist.2`) naming
 * the entry unless the sentence quotes it.
 */
export function readable(message: string, field?: string): string {
  const path = fieldPath(field);
  let text = message;
  // The device puts the field in front (`measurement.vtRatio: …`, `whitelist[0]: …`).
  const prefix = /^([\w.[\]]+): /.exec(text);
  if (prefix && fieldPath(prefix[1]) === path) text = text.slice(prefix[0].length);
  for (const [pattern, sentence] of FORMS) {
    const match = pattern.exec(text);
    if (match) {
      text = sentence(...match.slice(1));
      const entry = /\.(\d+)$/.exec(path ?? '');
      return entry && !text.includes("'") ? say('entry', Number(entry[1]) + 1, text) : text;
    }
  }
  return text;
}
