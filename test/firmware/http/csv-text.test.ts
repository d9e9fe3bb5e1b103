/**
 * CSV fields as the exports write them (firmware/http/csv-text.ts): formula-like text behind an
 * apostrophe, quoting of commas, quotes and line breaks, numbers as numbers, CRLF lines.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { csvField, csvText } from '../../../firmware/http/csv-text.ts';

describe('csvField', () => {
  it('puts an apostrophe before text a spreadsheet would run as a formula', () => {
    for (const start of ['=', '+', '-', '@', '\t', '\r']) {
      const field = csvField(`${start}HYPERLINK("evil.example")`);
      assert.ok(field === `'${start}HYPERLINK("evil.example")` || field.startsWith(`"'${start}`), field);
    }
    assert.equal(csvField('=1+2'), "'=1+2");
    assert.equal(csvField('@SUM(A1)'), "'@SUM(A1)");
  });

  it('quotes a field with a comma, quote, CR or LF, doubling its quotes', () => {
    assert.equal(csvField('a,b'), '"a,b"');
    assert.equal(csvField('say "hi"'), '"say ""hi"""');
    assert.equal(csvField('line\nbreak'), '"line\nbreak"');
    assert.equal(csvField('x\r\n=1'), '"x\r\n=1"');
    assert.equal(csvField('\r=cmd'), `"'\r=cmd"`);
  });

  it('leaves plain text, writes numbers as numbers and no value as an empty field', () => {
    assert.equal(csvField('login.failed'), 'login.failed');
    assert.equal(csvField(-1234.5), '-1234.5');
    assert.equal(csvField(0), '0');
    assert.equal(csvField(null), '');
    assert.equal(csvField(Number.NaN), '');
  });
});

describe('csvText', () => {
  it('writes the header and a CRLF-ended line per row', () => {
    assert.equal(
      csvText(
        ['time', 'detail'],
        [
          ['2026-12-06T10:00:00.000Z', '-x'],
          [null, 'a,b'],
        ],
      ),
      'time,detail\r\n2026-12-06T10:00:00.000Z,\'-x\r\n,"a,b"\r\n',
    );
  });
});
