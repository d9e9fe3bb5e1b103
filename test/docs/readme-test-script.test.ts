/**
 * The README's quick start says what `./scripts/test.sh` installs before a reader runs it (as root it
 * installs Debian packages): every package of the script's list is named there, and npm ci.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

const ROOT = join(import.meta.dirname, '..', '..');

test('README names every Debian package scripts/test.sh installs', () => {
  const script = readFileSync(join(ROOT, 'scripts', 'test.sh'), 'utf8');
  const list = /DEBIAN_PACKAGES=\(([^)]*)\)/.exec(script)?.[1];
  assert.ok(list, 'scripts/test.sh declares DEBIAN_PACKAGES');
  const packages = list.split(/\s+/).filter(Boolean);
  assert.ok(packages.length > 5);
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const quickStart = readme.slice(readme.indexOf('## Quick start'), readme.indexOf('## What is there'));
  const sentence = quickStart.slice(quickStart.indexOf('The second installs'));
  assert.ok(sentence.length > 0, 'the quick start has the sentence on ./scripts/test.sh');
  for (const name of packages) assert.ok(sentence.includes(name), `README quick start names ${name}`);
  assert.match(sentence, /npm ci/);
  assert.match(sentence, /as root/);
});
