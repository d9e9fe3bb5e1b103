/**
 * One wiring (issue 15): the device's object graph is built in one place, firmware/boot/device-factory.ts,
 * and the boot, the test fixtures and the bench all take it from there, so a fixture cannot drift from
 * the device it stands for. Reads the sources: nothing under firmware/ (but the factory), sim/,
 * test/support/ or scripts/bench/ constructs a service of the graph itself, and each fixture and bench
 * server that needs a device builds it with the factory.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const FACTORY = 'firmware/boot/device-factory.ts';

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.(tsx?|mjs)$/.test(entry.name) ? [path] : [];
  });
}

/** What only the factory may do: construct one of the graph's parts (a call, not a declaration). */
const GRAPH_CONSTRUCTORS =
  /\bnew (SecurityService|LoginService|MeteringService|ClientRegistry|SessionStore|LoginChallenges|LoginThrottle|StaleNonceLimit|TlsService|DisplayApp)\b|(?<!function )\bcreateApiApp\(/g;

/**
 * The commissioning CLI edits a flash image offline with the security service alone (no device is
 * running, nothing is served); it is a tool, not a build of the device.
 */
const NOT_A_DEVICE = (file: string) => file.startsWith('firmware/cli/');

const SCANNED = [
  ...sourceFiles('firmware'),
  ...sourceFiles('sim'),
  ...sourceFiles('test/support'),
  ...sourceFiles('scripts/bench'),
]
  .map((file) => relative(ROOT, join(ROOT, file)))
  .filter((file) => !NOT_A_DEVICE(file));

function constructions(file: string): string[] {
  const source = readFileSync(join(ROOT, file), 'utf8');
  return [...source.matchAll(GRAPH_CONSTRUCTORS)].map((match) => match[0]);
}

describe('one wiring of the device', () => {
  it('the pattern finds the factory constructing the graph (the test would pass vacuously otherwise)', () => {
    const found = new Set(constructions(FACTORY).map((call) => call.replace(/^new /, '').replace('(', '')));
    for (const name of ['SecurityService', 'LoginService', 'MeteringService', 'DisplayApp', 'createApiApp']) {
      assert.ok(found.has(name), `${FACTORY} constructs no ${name}: ${[...found].join(', ')}`);
    }
    assert.ok(
      SCANNED.includes('test/support/modbus-fixture.ts') &&
        SCANNED.includes('scripts/bench/modbus-bench-server.ts'),
    );
  });

  it('no fixture, bench, simulator or firmware file but the factory constructs a service of the graph', () => {
    const found = SCANNED.filter((file) => file !== FACTORY).flatMap((file) =>
      constructions(file).map((call) => `${file}: ${call}`),
    );
    assert.deepEqual(
      found,
      [],
      'build the device with buildDevice (sim/build-sim-device.ts in tests and the bench)',
    );
  });

  it('the boot, the fixtures and the Modbus bench server build the device with the factory', () => {
    const users: Record<string, RegExp> = {
      'firmware/boot/boot-device.ts': /\bbuildDevice\(/,
      'sim/build-sim-device.ts': /\bbuildDevice\(/,
      'test/support/modbus-fixture.ts': /\bbuildSimDevice\(/,
      'test/support/modbus-rtu-fixture.ts': /\bbuildSimDevice\(/,
      'test/support/display-fixture.ts': /\bbuildSimDevice\(/,
      'scripts/bench/modbus-bench-server.ts': /\bbuildSimDevice\(/,
    };
    const missing = Object.entries(users)
      .filter(([file, call]) => !call.test(readFileSync(join(ROOT, file), 'utf8')))
      .map(([file]) => file);
    assert.deepEqual(missing, []);
  });
});
