/**
 * The architecture as a test (STYLE "The shape"): the interfaces (HTTP, Modbus, display) do not import
 * one another, the core imports no adapter, and nothing under firmware/ reaches into the simulator.
 * Reads every import specifier of every firmware source file, so a new one cannot drift back.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const FIRMWARE = join(ROOT, 'firmware');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(entry.name) ? [path] : [];
  });
}

/** Every relative import (static, dynamic, re-export) of a file, as a path from the repository root. */
function importsOf(file: string): string[] {
  const source = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const match of source.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)['"](\.{1,2}\/[^'"]+)['"]/g)) {
    found.push(relative(ROOT, resolve(dirname(file), match[1] as string)));
  }
  return found;
}

const GRAPH = sourceFiles(FIRMWARE).map((file) => ({ file: relative(ROOT, file), imports: importsOf(file) }));

function violations(from: (file: string) => boolean, to: (target: string) => boolean): string[] {
  return GRAPH.filter(({ file }) => from(file)).flatMap(({ file, imports }) =>
    imports.filter(to).map((target) => `${file} imports ${target}`),
  );
}

const under = (folder: string) => (path: string) => path.startsWith(`firmware/${folder}/`);

describe('firmware import boundaries', () => {
  it('reads the import graph (the test would pass vacuously on an empty one)', () => {
    assert.ok(GRAPH.length > 50, `only ${GRAPH.length} firmware files found`);
    assert.ok(
      GRAPH.some(({ imports }) => imports.includes('firmware/core/permission-table.ts')),
      'no file imports the permission table: the import pattern is broken',
    );
  });

  for (const [a, b] of [
    ['http', 'modbus'],
    ['http', 'display'],
    ['modbus', 'http'],
    ['modbus', 'display'],
    ['display', 'http'],
    ['display', 'modbus'],
  ] as const) {
    it(`firmware/${a} does not import firmware/${b}`, () => {
      assert.deepEqual(violations(under(a), under(b)), []);
    });
  }

  it('nothing under firmware/ imports from sim/ (the board build carries no simulator)', () => {
    assert.deepEqual(
      violations(
        () => true,
        (target) => target.startsWith('sim/'),
      ),
      [],
    );
  });

  it('firmware/core imports nothing outside firmware/core', () => {
    assert.deepEqual(
      violations(under('core'), (target) => !under('core')(target)),
      [],
    );
  });
});
