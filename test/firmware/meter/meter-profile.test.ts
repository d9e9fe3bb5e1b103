/**
 * Meter profiles: the schema (every error names file, line and field), the built-in profiles, the
 * block planning and the decoding of every encoding, word and byte order, scale and unit. The words
 * fed to the decoder are made with Buffer's own writers, not with the decoder's code.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  BUILT_IN_PROFILES,
  type DecodeProblem,
  decodeReadings,
  loadProfile,
  type MeterProfile,
  ProfileError,
  type ProfilePoint,
  planReads,
  profileFromText,
} from '../../../firmware/meter/meter-profile.ts';

/** The message of the ProfileError that parsing `text` throws. */
function problemsOf(text: string, file = 'sdm.yaml'): string[] {
  try {
    profileFromText(text, file);
  } catch (error) {
    assert.ok(error instanceof ProfileError, `not a ProfileError: ${error}`);
    return error.message.split('\n');
  }
  assert.fail('the profile was accepted');
}

const HEAD = `name: test-meter
title: Test meter
source: a test
`;

describe('profile schema', () => {
  it('reads a minimal profile with defaults applied to every point', () => {
    const profile = profileFromText(
      `${HEAD}defaults:
  functionCode: 4
  encoding: float32
points:
  - { quantity: u1, address: 0, unit: V }
  - { quantity: activeImportWh, address: 0x48, unit: kWh, wordOrder: lsw-first }
  - { quantity: pf1, address: 10, encoding: int16, exponent: -3 }
`,
      'ok.yaml',
    );
    assert.equal(profile.name, 'test-meter');
    assert.equal(profile.primary, false);
    assert.equal(profile.maxGap, 0);
    assert.equal(profile.maxWords, 125);
    assert.deepEqual(profile.points[0], {
      quantity: 'u1',
      functionCode: 4,
      address: 0,
      words: 2,
      encoding: 'float32',
      scale: 1,
      wordOrder: 'msw-first',
      byteOrder: 'msb-first',
      unit: 'V',
    });
    assert.equal(profile.points[1]?.address, 0x48);
    assert.equal(profile.points[1]?.wordOrder, 'lsw-first');
    assert.equal(profile.points[2]?.words, 1);
    assert.equal(profile.points[2]?.scale, 0.001);
    assert.equal(profile.points[2]?.unit, '');
  });

  it('names file, line and field of a bad encoding, with the values allowed', () => {
    assert.deepEqual(
      problemsOf(`${HEAD}points:
  - { quantity: u1, address: 0, functionCode: 4, encoding: float32, unit: V }
  - quantity: u2
    address: 2
    functionCode: 4
    encoding: float33
    unit: V
`),
      [
        'sdm.yaml:9: points[1].encoding: expected one of float32, int16, uint16, int32, uint32, int64, uint64',
      ],
    );
  });

  it('refuses a quantity mapped twice, naming both points', () => {
    assert.deepEqual(
      problemsOf(`${HEAD}defaults: { functionCode: 4, encoding: float32 }
points:
  - { quantity: u1, address: 0, unit: V }
  - { quantity: u1, address: 2, unit: V }
`),
      ['sdm.yaml:7: points[1].quantity: u1 is already mapped by points[0]'],
    );
  });

  it('refuses overlapping registers with the same function code, not with different ones', () => {
    assert.deepEqual(
      problemsOf(`${HEAD}defaults: { functionCode: 4, encoding: float32 }
points:
  - { quantity: u1, address: 0, unit: V }
  - { quantity: u2, address: 1, unit: V }
`),
      ['sdm.yaml:7: points[1].address: registers 1–2 overlap points[0] (u1, 0–1) with function code 4'],
    );
    const profile = profileFromText(
      `${HEAD}defaults: { encoding: float32 }
points:
  - { quantity: u1, address: 0, functionCode: 4, unit: V }
  - { quantity: u2, address: 0, functionCode: 3, unit: V }
`,
      'ok.yaml',
    );
    assert.equal(profile.points.length, 2);
  });

  it('refuses addresses out of range, a register running past 65535, and a wrong word count', () => {
    assert.deepEqual(
      problemsOf(`${HEAD}defaults: { functionCode: 4 }
points:
  - { quantity: u1, address: 65536, encoding: int16, unit: V }
  - { quantity: u2, address: -1, encoding: int16, unit: V }
  - { quantity: u3, address: 1.5, encoding: int16, unit: V }
  - { quantity: i1, address: 65535, encoding: float32, unit: A }
  - { quantity: i2, address: 10, encoding: uint64, words: 2, unit: A }
`),
      [
        'sdm.yaml:6: points[0].address: expected a whole number from 0 to 65535 (the 0-based protocol address)',
        'sdm.yaml:7: points[1].address: expected a whole number from 0 to 65535 (the 0-based protocol address)',
        'sdm.yaml:8: points[2].address: expected a whole number from 0 to 65535 (the 0-based protocol address)',
        'sdm.yaml:9: points[3].address: float32 at 65535 runs past the last address, 65535',
        'sdm.yaml:10: points[4].words: uint64 takes 4 registers, not 2',
      ],
    );
  });

  it('checks the unit against the quantity and requires one except for power factors', () => {
    assert.deepEqual(
      problemsOf(`${HEAD}defaults: { functionCode: 4, encoding: float32 }
points:
  - { quantity: u1, address: 0, unit: kWh }
  - { quantity: i1, address: 2 }
  - { quantity: pf1, address: 4, unit: V }
  - { quantity: f, address: 6, unit: 50 }
`),
      [
        "sdm.yaml:6: points[0].unit: 'kWh' is not a unit of voltage (u1); expected one of V, mV, kV",
        'sdm.yaml:7: points[1].unit: required: the unit the meter reports i1 in (A, mA, kA)',
        'sdm.yaml:8: points[2].unit: a power factor has no unit; leave unit out',
        'sdm.yaml:9: points[3].unit: expected a unit such as V, kWh, var (in quotes if YAML reads it otherwise)',
      ],
    );
  });

  it('names missing and unknown fields, function codes, orders and scales', () => {
    assert.deepEqual(
      problemsOf(`name: Bad Name
title: t
colour: red
defaults: { wordOrder: big }
points:
  - { quantity: volts, address: 0 }
  - { quantity: u1, address: 0, unit: V }
  - { quantity: u2, address: 2, functionCode: 6, encoding: int16, unit: V }
  - { quantity: u3, address: 4, functionCode: 4, encoding: int16, unit: V, scale: 0.1, exponent: -1 }
  - { quantity: i1, address: 6, functionCode: 4, encoding: int16, unit: A, scale: 0 }
  - { quantity: i2, address: 8, functionCode: 4, encoding: int16, unit: A, byteOrder: swapped }
`),
      [
        'sdm.yaml:1: name: expected lower-case letters, digits and dashes, e.g. my-meter',
        'sdm.yaml:1: source: required',
        "sdm.yaml:3: colour: unknown field 'colour'",
        'sdm.yaml:4: defaults.wordOrder: expected one of msw-first, lsw-first',
        'sdm.yaml:6: points[0].quantity: expected one of u1, u2, u3, i1, i2, i3, p1, p2, p3, q1, q2, q3, s1, s2, s3, pf1, pf2, pf3, pTotal, qTotal, sTotal, pfTotal, f, activeImportWh, activeExportWh, reactiveImportVarh, reactiveExportVarh',
        'sdm.yaml:7: points[1].functionCode: required (here or in defaults)',
        'sdm.yaml:7: points[1].encoding: required (here or in defaults)',
        'sdm.yaml:8: points[2].functionCode: expected 3 (holding registers) or 4 (input registers)',
        'sdm.yaml:9: points[3].scale: give scale or exponent, not both',
        'sdm.yaml:10: points[4].scale: must be a finite number other than 0',
        'sdm.yaml:11: points[5].byteOrder: expected one of msb-first, lsb-first',
      ],
    );
  });

  it('names the line of a YAML syntax error and of a duplicate key', () => {
    assert.deepEqual(problemsOf(`${HEAD}points:\n  - { quantity: u1, address: 0\n`), [
      'sdm.yaml:6: Flow map in block collection must be sufficiently indented and end with a }',
    ]);
    const duplicate = problemsOf(`${HEAD}title: again\npoints: []\n`);
    assert.equal(duplicate.length, 1);
    assert.match(duplicate[0] ?? '', /^sdm\.yaml:4: Map keys must be unique/);
    assert.deepEqual(problemsOf(''), ['sdm.yaml:1: expected a mapping with name, title, source and points']);
    assert.deepEqual(problemsOf(`${HEAD}points: []\n`), [
      'sdm.yaml:4: points: a profile needs at least one point',
    ]);
  });

  it('loads a user profile file by path and names the file in its errors', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'metergate-profile-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const good = join(dir, 'my-meter.yaml');
    writeFileSync(
      good,
      `${HEAD}points:\n  - { quantity: f, address: 0, functionCode: 3, encoding: uint16, scale: 0.01, unit: Hz }\n`,
    );
    assert.equal(loadProfile(good).points[0]?.quantity, 'f');
    const bad = join(dir, 'bad.yaml');
    writeFileSync(
      bad,
      `${HEAD}points:\n  - { quantity: f, address: 0, functionCode: 3, encoding: uint16, unit: kHz }\n`,
    );
    assert.throws(() => loadProfile(bad), {
      name: 'ProfileError',
      message: `${bad}:5: points[0].unit: 'kHz' is not a unit of frequency (f); expected one of Hz, mHz`,
    });
    assert.throws(() => loadProfile(join(dir, 'missing.yaml')), {
      message: `${join(dir, 'missing.yaml')}: cannot read the profile file (ENOENT)`,
    });
    assert.throws(() => loadProfile('sdm999'), {
      message:
        'sdm999: no built-in profile of that name (built in: eastron-sdm630, eastron-sdm72d-m, carlo-gavazzi-em24, metergate); a profile file is given by its path, e.g. ./my-meter.yaml',
    });
  });
});

describe('built-in profiles', () => {
  it('every one loads, cites a source with a URL or document, and plans reads within its limits', () => {
    assert.deepEqual(
      [...BUILT_IN_PROFILES],
      ['eastron-sdm630', 'eastron-sdm72d-m', 'carlo-gavazzi-em24', 'metergate'],
    );
    for (const name of BUILT_IN_PROFILES) {
      const profile = loadProfile(name);
      assert.equal(profile.name, name);
      assert.match(profile.source, /https?:\/\/|REGISTERS\.md/, `${name} cites no document`);
      const blocks = planReads(profile);
      for (const block of blocks)
        assert.ok(block.count <= profile.maxWords, `${name}: block of ${block.count}`);
      // Every point is inside exactly one planned block.
      for (const point of profile.points) {
        const covering = blocks.filter(
          (b) =>
            b.functionCode === point.functionCode &&
            b.address <= point.address &&
            point.address + point.words <= b.address + b.count,
        );
        assert.equal(covering.length, 1, `${name}: ${point.quantity}`);
      }
    }
  });

  it('the metergate profile is primary (the upstream already applied its ratios), the makers’ are not', () => {
    assert.equal(loadProfile('metergate').primary, true);
    assert.equal(loadProfile('eastron-sdm630').primary, false);
    assert.equal(loadProfile('carlo-gavazzi-em24').primary, false);
  });
});

/** A profile of the given points, as the parser would produce them. */
function profileOf(points: Partial<ProfilePoint>[], limits: Partial<MeterProfile> = {}): MeterProfile {
  return {
    name: 't',
    title: 't',
    source: 't',
    primary: false,
    maxGap: 0,
    maxWords: 125,
    ...limits,
    points: points.map((p) => ({
      quantity: 'u1',
      functionCode: 4,
      address: 0,
      words: 2,
      encoding: 'float32',
      scale: 1,
      wordOrder: 'msw-first',
      byteOrder: 'msb-first',
      unit: 'V',
      ...p,
    })),
  };
}

describe('planReads', () => {
  it('merges adjacent points, splits at gaps, function codes and the block limit', () => {
    const profile = profileOf([
      { quantity: 'u2', address: 2 },
      { quantity: 'u1', address: 0 },
      { quantity: 'u3', address: 6 },
      { quantity: 'i1', address: 0, functionCode: 3, unit: 'A' },
      { quantity: 'i2', address: 8, unit: 'A' },
    ]);
    assert.deepEqual(planReads(profile), [
      { functionCode: 3, address: 0, count: 2 },
      { functionCode: 4, address: 0, count: 4 },
      { functionCode: 4, address: 6, count: 4 },
    ]);
    assert.deepEqual(planReads(profile, { maxGap: 2 }), [
      { functionCode: 3, address: 0, count: 2 },
      { functionCode: 4, address: 0, count: 10 },
    ]);
    assert.deepEqual(planReads(profile, { maxGap: 2, maxWords: 6 }), [
      { functionCode: 3, address: 0, count: 2 },
      { functionCode: 4, address: 0, count: 4 },
      { functionCode: 4, address: 6, count: 4 },
    ]);
  });

  it('never plans a read longer than 125 registers', () => {
    const quantities = ['u1', 'u2', 'u3', 'i1', 'i2', 'i3', 'p1', 'p2', 'p3'] as const;
    const profile = profileOf(
      quantities.map((quantity, k) => ({
        quantity,
        address: k * 20,
        encoding: 'uint64',
        words: 4,
        unit: 'V',
      })),
    );
    const blocks = planReads(profile, { maxGap: 100, maxWords: 1000 });
    assert.ok(blocks.every((b) => b.count <= 125));
    assert.deepEqual(
      blocks.map((b) => [b.address, b.count]),
      [
        [0, 124],
        [140, 24],
      ],
    );
  });
});

/** The registers holding `value` in `encoding`, big-endian, then put in the point's word and byte order. */
function wordsOf(
  value: number,
  encoding: ProfilePoint['encoding'],
  order: { wordOrder?: ProfilePoint['wordOrder']; byteOrder?: ProfilePoint['byteOrder'] } = {},
): number[] {
  const size = { float32: 4, int16: 2, uint16: 2, int32: 4, uint32: 4, int64: 8, uint64: 8 }[encoding];
  const buf = Buffer.alloc(size);
  if (encoding === 'float32') buf.writeFloatBE(value);
  else if (encoding === 'int16') buf.writeInt16BE(value);
  else if (encoding === 'uint16') buf.writeUInt16BE(value);
  else if (encoding === 'int32') buf.writeInt32BE(value);
  else if (encoding === 'uint32') buf.writeUInt32BE(value);
  else if (encoding === 'int64') buf.writeBigInt64BE(BigInt(value));
  else buf.writeBigUInt64BE(BigInt(value));
  if (order.byteOrder === 'lsb-first') buf.swap16();
  const words: number[] = [];
  for (let k = 0; k < size; k += 2) words.push(buf.readUInt16BE(k));
  return order.wordOrder === 'lsw-first' ? words.reverse() : words;
}

describe('decodeReadings', () => {
  const encodings: [ProfilePoint['encoding'], number][] = [
    ['float32', -1234.5],
    ['int16', -12345],
    ['uint16', 54321],
    ['int32', -123456789],
    ['uint32', 3456789012],
    ['int64', -9007199254740991],
    ['uint64', 9007199254740991],
  ];
  for (const [encoding, value] of encodings) {
    for (const wordOrder of ['msw-first', 'lsw-first'] as const) {
      for (const byteOrder of ['msb-first', 'lsb-first'] as const) {
        it(`${encoding}, ${wordOrder}, ${byteOrder}`, () => {
          const words = wordsOf(value, encoding, { wordOrder, byteOrder });
          const profile = profileOf([
            {
              quantity: 'p1',
              address: 10,
              encoding,
              words: words.length as 1 | 2 | 4,
              wordOrder,
              byteOrder,
              unit: 'W',
            },
          ]);
          const blocks = planReads(profile);
          assert.deepEqual(decodeReadings(profile, blocks, [Uint16Array.from(words)]), { p1: value });
        });
      }
    }
  }

  it('applies scale, exponent and the unit: tenths of volts, mA, kWh ×10, kvarh, per-mille power factors', () => {
    const profile = profileOf(
      [
        { quantity: 'u1', address: 0, encoding: 'int32', wordOrder: 'lsw-first', scale: 0.1, unit: 'V' },
        { quantity: 'i1', address: 2, encoding: 'int32', wordOrder: 'lsw-first', unit: 'mA' },
        {
          quantity: 'activeImportWh',
          address: 4,
          encoding: 'int32',
          wordOrder: 'lsw-first',
          scale: 0.1,
          unit: 'kWh',
        },
        { quantity: 'reactiveImportVarh', address: 6, encoding: 'float32', unit: 'kvarh' },
        { quantity: 'pf1', address: 8, encoding: 'int16', words: 1, scale: 0.001, unit: '' },
        { quantity: 'u2', address: 9, encoding: 'uint16', words: 1, scale: 2, unit: 'kV' },
        { quantity: 'f', address: 10, encoding: 'uint16', words: 1, scale: 0.01, unit: 'Hz' },
      ],
      { maxGap: 0 },
    );
    const words = [
      ...wordsOf(2301, 'int32', { wordOrder: 'lsw-first' }),
      ...wordsOf(5123, 'int32', { wordOrder: 'lsw-first' }),
      ...wordsOf(123456789, 'int32', { wordOrder: 'lsw-first' }),
      ...wordsOf(12.5, 'float32'),
      ...wordsOf(-985, 'int16'),
      ...wordsOf(3, 'uint16'),
      ...wordsOf(4998, 'uint16'),
    ];
    const blocks = planReads(profile);
    assert.deepEqual(blocks, [{ functionCode: 4, address: 0, count: 11 }]);
    assert.deepEqual(decodeReadings(profile, blocks, [Uint16Array.from(words)]), {
      u1: 230.1,
      i1: 5.123,
      activeImportWh: 12345678900,
      reactiveImportVarh: 12500,
      pf1: -0.985,
      u2: 6000,
      f: 49.98,
    });
  });

  it('leaves out and reports a float register holding NaN or infinity, never a made-up value', () => {
    const profile = profileOf([
      { quantity: 'u1', address: 0 },
      { quantity: 'u2', address: 2 },
      { quantity: 'u3', address: 4 },
    ]);
    const blocks = planReads(profile);
    const problems: DecodeProblem[] = [];
    const words = [
      ...wordsOf(Number.NaN, 'float32'),
      ...wordsOf(Number.POSITIVE_INFINITY, 'float32'),
      ...wordsOf(231, 'float32'),
    ];
    assert.deepEqual(
      decodeReadings(profile, blocks, [Uint16Array.from(words)], (p) => problems.push(p)),
      { u3: 231 },
    );
    assert.deepEqual(problems, [
      { quantity: 'u1', message: 'u1 (float32 at 0, function code 4) holds NaN' },
      { quantity: 'u2', message: 'u2 (float32 at 2, function code 4) holds Infinity' },
    ]);
  });

  it('leaves out points whose block came back short or was not read', () => {
    const profile = profileOf([
      { quantity: 'u1', address: 0 },
      { quantity: 'u2', address: 2 },
      { quantity: 'i1', address: 0, functionCode: 3, unit: 'A' },
    ]);
    const blocks = planReads(profile);
    const problems: string[] = [];
    const readings = decodeReadings(
      profile,
      blocks.filter((b) => b.functionCode === 4),
      [Uint16Array.from(wordsOf(229.5, 'float32'))],
      (p) => problems.push(p.message),
    );
    assert.deepEqual(readings, { u1: 229.5 });
    assert.deepEqual(problems, [
      'the read of 4 registers at 0 returned 2',
      'no read covers i1 (float32 at 0, function code 3)',
    ]);
  });
});
