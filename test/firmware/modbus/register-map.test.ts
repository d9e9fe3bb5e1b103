/**
 * REGISTER_MAP is the map published to integrators: every row of the published table (shared/REGISTERS.md,
 * kept verbatim in docs/registers-published.md because CI sees only this repository) equals its block in
 * address, count, type, unit, read and write permission and accepted values, and no block is unpublished.
 * Also: blocks do not overlap, and values are encoded as the published text says (float word order,
 * uint64 most significant word first, zero-padded ASCII strings).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PERMISSIONS } from '../../../firmware/core/permission-table.ts';
import {
  blockAt,
  COMMAND_MAGIC,
  decodeBlock,
  encodeBlock,
  REGISTER_MAP,
  type RegisterBlock,
} from '../../../firmware/modbus/register-map.ts';
import { REPO_ROOT } from '../../support/device-process.ts';

const isPermissionName = (name: string) => PERMISSIONS.some((p) => p.name === name);

const PUBLISHED_COPY = join(REPO_ROOT, 'docs', 'registers-published.md');
/** The original, beside the repository on a developer's machine; absent in CI. */
const SHARED = join(REPO_ROOT, '..', 'shared', 'REGISTERS.md');

interface PublishedRow {
  readonly address: number;
  readonly count: number;
  readonly type: string;
  readonly name: string;
  readonly unit: string;
  readonly read: string;
  readonly write: string;
}

function parseTable(markdown: string): PublishedRow[] {
  return markdown
    .split('\n')
    .filter((line) => /^\|\s*\d+\s*\|/.test(line))
    .map((line) => {
      const cells = line
        .split('|')
        .slice(1, -1)
        .map((c) => c.trim());
      assert.equal(cells.length, 7, `a row of 7 cells: ${line}`);
      const [address, count, type, name, unit, read, write] = cells as [string, ...string[]];
      return {
        address: Number(address),
        count: Number(count),
        type,
        name,
        unit,
        read,
        write,
      } as PublishedRow;
    });
}

function isCommand(block: RegisterBlock): boolean {
  return block.onWrite?.(COMMAND_MAGIC).kind === 'command';
}

/** The accepted values a published row states in its name. */
function publishedRange(row: PublishedRow): { min: number; max: number } | null {
  const magic = /write 0x([0-9a-f]{4})/i.exec(row.name);
  if (magic)
    return { min: Number.parseInt(magic[1] as string, 16), max: Number.parseInt(magic[1] as string, 16) };
  const range = /(\d+)–(\d+)/.exec(row.name);
  if (range) return { min: Number(range[1]), max: Number(range[2]) };
  const choices = [...row.name.matchAll(/(\d+) = /g)].map((m) => Number(m[1]));
  if (choices.length > 0) return { min: Math.min(...choices), max: Math.max(...choices) };
  return null;
}

describe('REGISTER_MAP against the published map', () => {
  const published = readFileSync(PUBLISHED_COPY, 'utf8');
  const rows = parseTable(published);

  it('keeps docs/registers-published.md a verbatim copy of shared/REGISTERS.md (when present)', (t) => {
    if (!existsSync(SHARED)) {
      t.diagnostic(`${SHARED} is not here (CI): checking the copy only`);
      return;
    }
    assert.equal(
      published,
      readFileSync(SHARED, 'utf8'),
      'copy shared/REGISTERS.md to docs/registers-published.md',
    );
  });

  it('publishes every block, and declares every published row', () => {
    assert.ok(rows.length >= 20, `parsed ${rows.length} rows`);
    assert.deepEqual(
      rows.map((r) => r.address),
      REGISTER_MAP.map((b) => b.address),
    );
  });

  for (const row of rows) {
    it(`row ${row.address} (${row.name}) equals its declaration`, () => {
      const block = REGISTER_MAP.find((b) => b.address === row.address);
      assert.ok(block, `no block at ${row.address}`);
      assert.equal(block.count, row.count, 'count');
      assert.equal(block.type, row.type, 'type');
      assert.equal(block.unit, row.unit, 'unit');

      if (row.read === '(none: public)') {
        assert.equal(block.read, 'public', 'read needs');
      } else if (row.read === '—') {
        // A command register: nothing is needed to read it, and it reads 0.
        assert.ok(isCommand(block), 'a row without read permission is a command');
        assert.equal(block.read, 'public', 'read needs');
        assert.match(row.name, /reads 0/);
      } else {
        assert.ok(isPermissionName(row.read), `"${row.read}" is a permission`);
        assert.equal(block.read, row.read, 'read needs');
      }

      if (row.write === '—') {
        assert.equal(block.write, null, 'read-only');
        assert.equal(block.onWrite, undefined);
      } else {
        assert.ok(isPermissionName(row.write), `"${row.write}" is a permission`);
        assert.equal(block.write, row.write, 'write needs');
        assert.ok(block.onWrite, 'a writable block says what a write does');
        assert.deepEqual(block.range, publishedRange(row), 'accepted values');
      }
    });
  }
});

describe('REGISTER_MAP shape and encoding', () => {
  it('has blocks in address order that do not overlap, each found at every address it covers', () => {
    for (const [i, block] of REGISTER_MAP.entries()) {
      const previous = REGISTER_MAP[i - 1];
      if (previous)
        assert.ok(previous.address + previous.count <= block.address, `${block.address} overlaps`);
      for (let a = block.address; a < block.address + block.count; a++) assert.equal(blockAt(a), block);
    }
    assert.equal(blockAt(22), undefined);
    assert.equal(blockAt(516), undefined);
  });

  it('encodes float32 high word first (ABCD) or low word first (CDAB), and decodes writes back', () => {
    const vt = REGISTER_MAP.find((b) => b.address === 400) as RegisterBlock;
    assert.deepEqual(encodeBlock(vt, 230, 'ABCD'), [0x4366, 0x0000]);
    assert.deepEqual(encodeBlock(vt, 230, 'CDAB'), [0x0000, 0x4366]);
    assert.equal(decodeBlock(vt, [0x42c8, 0x0000], 'ABCD'), 100);
    assert.equal(decodeBlock(vt, [0x0000, 0x42c8], 'CDAB'), 100);
  });

  it('encodes uint64 most significant word first, whatever the float word order', () => {
    const energy = REGISTER_MAP.find((b) => b.address === 100) as RegisterBlock;
    const value = 0x0001_0002_0003_0004n;
    assert.deepEqual(encodeBlock(energy, value, 'ABCD'), [1, 2, 3, 4]);
    assert.deepEqual(encodeBlock(energy, value, 'CDAB'), [1, 2, 3, 4]);
  });

  it('encodes strings as ASCII, two characters per register, zero-padded', () => {
    const serial = REGISTER_MAP.find((b) => b.address === 500) as RegisterBlock;
    assert.deepEqual(encodeBlock(serial, 'ABC', 'ABCD'), [0x4142, 0x4300, 0, 0, 0, 0, 0, 0]);
  });
});
