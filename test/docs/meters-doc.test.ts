/**
 * docs/meters.md cannot drift from the profiles: its table names every built-in profile (and no other),
 * its example profile parses, its example errors are what the parser says for the file below, and its
 * field tables list every quantity, encoding and unit the schema accepts.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  BUILT_IN_PROFILES,
  ENCODINGS,
  loadProfile,
  ProfileError,
  profileFromText,
  QUANTITIES,
} from '../../firmware/meter/meter-profile.ts';
import { UNITS } from '../../firmware/meter/profile-model.ts';
import { REPO_ROOT } from '../support/device-process.ts';

const doc = readFileSync(join(REPO_ROOT, 'docs', 'meters.md'), 'utf8');

/** The text of the section under `## title`, up to the next `## `. */
function section(title: string): string {
  const start = doc.indexOf(`\n## ${title}\n`);
  assert.ok(start >= 0, `docs/meters.md has no section '## ${title}'`);
  const end = doc.indexOf('\n## ', start + 1);
  return doc.slice(start, end < 0 ? undefined : end);
}

/** The fenced code blocks of a section, with their info strings. */
function codeBlocks(text: string): { info: string; body: string }[] {
  return [...text.matchAll(/```(\w*)\n([\s\S]*?)```/g)].map((m) => ({ info: m[1] ?? '', body: m[2] ?? '' }));
}

/** The file the documented error lines come from. */
const BAD_PROFILE = `name: my-meter
title: Example Meter EM-1
source: Example Co., EM-1 Modbus register list, revision 3 (2024-05)
defaults:
  functionCode: 4
  encoding: float32
points:
  - { quantity: u1, address: 0, unit: V }
  - { quantity: u2, address: 2, unit: V }
  - { quantity: i1, address: 6, unit: A }
  - quantity: f
    address: 0x46
    encoding: float23
    unit: Hz
  - { quantity: u1, address: 4, unit: V }
  - { quantity: i2, address: 7, unit: A }
  - { quantity: activeImportWh, address: 0x48, unit: kW }
`;

describe('docs/meters.md', () => {
  it('the built-in profiles table names every built-in profile, and only those', () => {
    const rows = section('Built-in profiles')
      .split('\n')
      .filter((line) => /^\| `[^`]+` \|/.test(line))
      .map((line) => /^\| `([^`]+)` \|/.exec(line)?.[1]);
    assert.deepEqual(rows, [...BUILT_IN_PROFILES]);
    for (const name of BUILT_IN_PROFILES) {
      const row = section('Built-in profiles')
        .split('\n')
        .find((line) => line.startsWith(`| \`${name}\` |`));
      // The source cell starts like the profile's own citation (the maker's name and document).
      const cited = loadProfile(name).source.split(/[,(]/)[0]?.trim() ?? '';
      assert.ok(row?.includes(cited.slice(0, 20)), `${name}: the table's source does not match '${cited}'`);
    }
  });

  it('the example profile parses and the example errors are the parser’s, line for line', () => {
    const blocks = codeBlocks(section('Writing a profile'));
    const example = blocks.find((b) => b.info === 'yaml');
    assert.ok(example, 'no yaml example');
    const profile = profileFromText(example.body, 'example.yaml');
    assert.equal(profile.name, 'my-meter');
    const errors = blocks.find((b) => b.info === '' && b.body.includes('my-meter.yaml:'));
    assert.ok(errors, 'no example errors');
    assert.throws(
      () => profileFromText(BAD_PROFILE, 'my-meter.yaml'),
      (error: unknown) => error instanceof ProfileError && `${error.message}\n` === errors.body,
    );
  });

  it('the field tables name every quantity, encoding and unit the schema accepts', () => {
    const text = section('Writing a profile');
    const rowOf = (field: string) =>
      text.split('\n').find((line) => line.startsWith(`| \`${field}\` |`)) ?? '';
    for (const quantity of QUANTITIES) assert.ok(rowOf('quantity').includes(`\`${quantity}\``), quantity);
    for (const encoding of ENCODINGS) assert.ok(rowOf('encoding').includes(`\`${encoding}\``), encoding);
    for (const units of Object.values(UNITS)) {
      for (const unit of Object.keys(units)) {
        if (unit !== '') assert.ok(rowOf('unit').includes(`\`${unit}\``), unit);
      }
    }
  });

  it('keeps the poller’s sections in place', () => {
    for (const title of [
      'Choosing the meter source',
      'Wiring RS-485 on a Pi',
      'When the upstream meter does not answer',
    ]) {
      section(title);
    }
  });
});
