/**
 * CSV as the REST exports write it (RFC 4180: comma-separated, CRLF lines, a field quoted when it holds
 * a comma, quote, CR or LF, quotes doubled), safe to open in a spreadsheet: a text field that begins
 * with = + - @ TAB or CR would be read as a formula there (OWASP "CSV injection"), so it is written with
 * a leading apostrophe, which spreadsheets show as text. Text in the event log can come from a request
 * (an access.denied event quotes the refused path), so every text field is escaped; numbers are the
 * device's own and are written as numbers (a negative power stays a number).
 */

/** A field: text (escaped), a number (finite, as is), or null (empty: no value). */
export type CsvField = string | number | null;

const FORMULA_START = /^[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",\r\n]/;

/** One field as CSV text. */
export function csvField(value: CsvField): string {
  if (value === null) return '';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  const text = FORMULA_START.test(value) ? `'${value}` : value;
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** The header line and one line per row, each ended by CRLF. */
export function csvText(header: readonly string[], rows: Iterable<readonly CsvField[]>): string {
  const lines = [header.map(csvField).join(',')];
  for (const row of rows) lines.push(row.map(csvField).join(','));
  return `${lines.join('\r\n')}\r\n`;
}
