/**
 * The display's key decoder: serial bytes to the four keys and typed characters. Arrows in CSI and SS3
 * form, Enter in every line-ending style, Backspace and a lone Esc as Back, printable ASCII as typed
 * characters, split sequences, unknown sequences and noise dropped, and no input (endless parameters,
 * random bytes) that leaves the decoder stuck.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type DisplayInput,
  ESC_TIMEOUT_MS,
  KeyDecoder,
  typedChar,
} from '../../../firmware/display/key-decoder.ts';
import { fuzzSeed, seededRandom } from '../../support/seeded-random.ts';

const T0 = 1_000_000;

function bytes(text: string): Uint8Array {
  return Uint8Array.from(Buffer.from(text, 'latin1'));
}

/** The keys `text` decodes to when it arrives in one piece on a fresh decoder. */
function decode(text: string, now = T0): DisplayInput[] {
  return new KeyDecoder().feed(bytes(text), now);
}

/** The keys `text` decodes to when every byte arrives in its own feed() (same instant). */
function decodeBytewise(text: string, now = T0): DisplayInput[] {
  const decoder = new KeyDecoder();
  return [...bytes(text)].flatMap((byte) => decoder.feed(Uint8Array.of(byte), now));
}

describe('KeyDecoder', () => {
  it('decodes arrow keys in CSI form', () => {
    assert.deepEqual(decode('\x1b[A'), ['up']);
    assert.deepEqual(decode('\x1b[B'), ['down']);
    assert.deepEqual(decode('\x1b[C'), ['ok']);
    assert.deepEqual(decode('\x1b[D'), ['back']);
  });

  it('decodes arrow keys in SS3 form (application cursor mode)', () => {
    assert.deepEqual(decode('\x1bOA'), ['up']);
    assert.deepEqual(decode('\x1bOB'), ['down']);
    assert.deepEqual(decode('\x1bOC'), ['ok']);
    assert.deepEqual(decode('\x1bOD'), ['back']);
  });

  it('decodes arrows with parameters (modifiers) as the plain arrow', () => {
    assert.deepEqual(decode('\x1b[1;5A'), ['up']);
    assert.deepEqual(decode('\x1b[1;2B'), ['down']);
    assert.deepEqual(decode('\x1b[1;3C'), ['ok']);
    assert.deepEqual(decode('\x1b[5D'), ['back']);
  });

  it('decodes Enter as CR, LF or CRLF, each one OK', () => {
    assert.deepEqual(decode('\r'), ['ok']);
    assert.deepEqual(decode('\n'), ['ok']);
    assert.deepEqual(decode('\r\n'), ['ok']);
    assert.deepEqual(decode('\r\n\r\n'), ['ok', 'ok']);
    assert.deepEqual(decode('\r\r'), ['ok', 'ok']);
    assert.deepEqual(decode('\n\n'), ['ok', 'ok']);
    assert.deepEqual(decode('\n\r'), ['ok', 'ok']);
  });

  it('treats CRLF split over two feeds as one OK', () => {
    const decoder = new KeyDecoder();
    assert.deepEqual(decoder.feed(bytes('\r'), T0), ['ok']);
    assert.deepEqual(decoder.feed(bytes('\n'), T0 + 1), []);
    assert.deepEqual(decoder.feed(bytes('\n'), T0 + 2), ['ok'], 'a second LF is another Enter');
  });

  it('decodes Backspace (DEL and BS) as Back', () => {
    assert.deepEqual(decode('\x7f'), ['back']);
    assert.deepEqual(decode('\x08'), ['back']);
    assert.deepEqual(decode('\x7f\x08'), ['back', 'back']);
  });

  it('reports a lone Esc only once ESC_TIMEOUT_MS passed, through flush', () => {
    const decoder = new KeyDecoder();
    assert.deepEqual(decoder.feed(bytes('\x1b'), T0), []);
    assert.equal(decoder.pending, true);
    assert.deepEqual(decoder.flush(T0), []);
    assert.deepEqual(decoder.flush(T0 + ESC_TIMEOUT_MS - 1), []);
    assert.equal(decoder.pending, true);
    assert.deepEqual(decoder.flush(T0 + ESC_TIMEOUT_MS), ['back']);
    assert.equal(decoder.pending, false);
    assert.deepEqual(decoder.flush(T0 + 10 * ESC_TIMEOUT_MS), [], 'reported once');
  });

  it('still makes an arrow of Esc and a "[A" that arrives just within the timeout', () => {
    const decoder = new KeyDecoder();
    assert.deepEqual(decoder.feed(bytes('\x1b'), T0), []);
    assert.deepEqual(decoder.feed(bytes('[A'), T0 + ESC_TIMEOUT_MS - 1), ['up']);
  });

  it('reports the lone Esc first when the next bytes come after the timeout', () => {
    const decoder = new KeyDecoder();
    assert.deepEqual(decoder.feed(bytes('\x1b'), T0), []);
    // The Esc is resolved as Back; '[' and 'A' alone are typed characters.
    assert.deepEqual(decoder.feed(bytes('[A'), T0 + ESC_TIMEOUT_MS), ['back', { char: '[' }, { char: 'A' }]);
    assert.deepEqual(decoder.feed(bytes('\x1b[A'), T0 + ESC_TIMEOUT_MS), ['up']);
  });

  it('makes Esc followed by a byte other than [ or O a Back, and decodes that byte on its own', () => {
    assert.deepEqual(decode('\x1b\r'), ['back', 'ok']);
    assert.deepEqual(decode('\x1b\n'), ['back', 'ok']);
    assert.deepEqual(decode('\x1b\x7f'), ['back', 'back']);
    assert.deepEqual(decode('\x1bx'), ['back', { char: 'x' }]);
    assert.deepEqual(decode('\x1b\x1b[A'), ['back', 'up']);
    const decoder = new KeyDecoder();
    assert.deepEqual(decoder.feed(bytes('\x1b\x1b'), T0), ['back']);
    assert.equal(decoder.pending, true, 'the second Esc waits on its own');
    assert.deepEqual(decoder.flush(T0 + ESC_TIMEOUT_MS), ['back']);
  });

  it('gives the same keys when sequences arrive byte by byte', () => {
    const streams = [
      '\x1b[A',
      '\x1bOB',
      '\x1b[1;5C',
      '\x1b[D\x1b[A\x1bOA',
      '\r\n\r\n\n\r',
      '\x1b\r',
      '\x7f\x08',
      '\x1b[2~\x1b[A\x1b[5n\x1bOD',
      'ab\x1b[1;5Bq\r\n\x1b[C',
    ];
    for (const stream of streams) {
      const whole = decode(stream);
      assert.ok(whole.length > 0, `${JSON.stringify(stream)} decodes to keys`);
      assert.deepEqual(decodeBytewise(stream), whole, JSON.stringify(stream));
    }
    assert.deepEqual(decodeBytewise('\x1b[D\x1b[A\x1bOA'), ['back', 'up', 'up']);
    assert.deepEqual(decodeBytewise('ab\x1b[1;5Bq\r\n\x1b[C'), [
      { char: 'a' },
      { char: 'b' },
      'down',
      { char: 'q' },
      'ok',
      'ok',
    ]);
  });

  it('drops unknown CSI sequences and bytes outside printable ASCII', () => {
    assert.deepEqual(decode('\x1b[2~'), []);
    assert.deepEqual(decode('\x1b[5n'), []);
    assert.deepEqual(decode('\x1b[H'), []);
    assert.deepEqual(decode('\x1bOP'), [], 'F1 in SS3 form');
    assert.deepEqual(decode('\x00\x01\x07\x80\xe9\xff'), []);
    assert.deepEqual(decode('\x1b[2~\x1b[5n\x1b[B'), ['down'], 'and decodes what follows');
  });

  it('turns printable ASCII typed on a terminal keyboard into typed characters', () => {
    const typed = 'Az09 ~!_.';
    assert.deepEqual(
      decode(typed),
      [...typed].map((char) => ({ char })),
    );
    assert.deepEqual(decode('ab\x7f\r'), [{ char: 'a' }, { char: 'b' }, 'back', 'ok']);
    assert.deepEqual(decodeBytewise('x\x1b[Ay'), [{ char: 'x' }, 'up', { char: 'y' }]);
    assert.equal(typedChar({ char: 'q' }), 'q');
    assert.equal(typedChar('ok'), null);
  });

  it('gives up an endless CSI parameter run and decodes the next arrow', () => {
    const decoder = new KeyDecoder();
    const endless = new Uint8Array(2 + 10_000).fill(0x31);
    endless.set([0x1b, 0x5b]);
    assert.deepEqual(decoder.feed(endless, T0), []);
    assert.equal(decoder.pending, false);
    // The rest of the run is skipped, not typed; the 'A' that ends it is not taken for up.
    assert.deepEqual(decoder.feed(bytes('A'), T0 + 1), []);
    assert.deepEqual(decoder.feed(bytes('\x1b[A'), T0 + 2), ['up']);
    assert.deepEqual(decoder.feed(bytes('\r'), T0 + 3), ['ok']);
  });

  it('gives up an endless CSI parameter run that arrives byte by byte', () => {
    const decoder = new KeyDecoder();
    const keys = [...bytes(`\x1b[${'1'.repeat(10_000)}A\x1b[A`)].flatMap((byte) =>
      decoder.feed(Uint8Array.of(byte), T0),
    );
    assert.deepEqual(keys, ['up']);
  });

  it('decodes an arrow after any unfinished prefix once a flush far in the future ran', () => {
    for (const prefix of ['\x1b', '\x1b[', '\x1b[1;', '\x1b[1;5']) {
      const decoder = new KeyDecoder();
      decoder.feed(bytes(prefix), T0);
      decoder.flush(T0 + 60_000);
      assert.deepEqual(decoder.feed(bytes('\x1b[A'), T0 + 60_000), ['up'], JSON.stringify(prefix));
    }
  });

  it('decodes the next key after an unfinished SS3 prefix, whether or not a flush ran', () => {
    const flushed = new KeyDecoder();
    flushed.feed(bytes('\x1bO'), T0);
    flushed.flush(T0 + 60_000);
    assert.deepEqual(flushed.feed(bytes('\x1b[A'), T0 + 60_000), ['up']);
    const unflushed = new KeyDecoder();
    unflushed.feed(bytes('\x1bO'), T0);
    assert.deepEqual(unflushed.feed(bytes('\x1b[A'), T0 + 1), ['up']);
  });

  it('a control byte ends an unfinished sequence and still counts as its key', () => {
    for (const [prefix, key] of [
      ['\x1b[', '\r'],
      ['\x1b[1', '\x7f'],
      ['\x1bO', '\r'],
    ] as const) {
      const decoder = new KeyDecoder();
      decoder.feed(bytes(prefix), T0);
      assert.deepEqual(
        decoder.feed(bytes(key), T0 + 1),
        key === '\r' ? ['ok'] : ['back'],
        JSON.stringify(prefix),
      );
    }
  });

  it('survives 200k seeded random bytes and decodes an up arrow afterwards', (t) => {
    const seed = fuzzSeed('DISPLAY_FUZZ_SEED');
    t.diagnostic(`seed ${seed} (rerun with DISPLAY_FUZZ_SEED=${seed})`);
    const random = seededRandom(seed);
    const decoder = new KeyDecoder();
    const known = new Set<DisplayInput>(['up', 'down', 'back', 'ok']);
    let now = T0;
    let fed = 0;
    let keyCount = 0;
    while (fed < 200_000) {
      const chunk = random.bytes(Math.min(1 + random.int(64), 200_000 - fed));
      fed += chunk.length;
      now += random.int(2 * ESC_TIMEOUT_MS);
      const keys = decoder.feed(chunk, now);
      for (const key of keys) {
        const char = typedChar(key);
        assert.ok(
          char === null ? known.has(key) : /^[\x20-\x7e]$/.test(char),
          `unexpected ${JSON.stringify(key)}`,
        );
      }
      keyCount += keys.length;
    }
    assert.ok(keyCount > 0, 'random bytes contain CR, LF, BS and DEL, so some keys were decoded');
    now += 60_000;
    decoder.flush(now);
    assert.deepEqual(decoder.feed(bytes('\x1b[A'), now), ['up']);
  });
});
