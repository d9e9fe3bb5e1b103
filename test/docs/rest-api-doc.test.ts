/**
 * docs/rest-api.md cannot drift from the code: its resource table lists exactly the declared routes,
 * each with the permission the route declares.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { bootDevice } from '../../firmware/boot/boot-device.ts';
import { parseDeviceOptions } from '../../firmware/boot/device-options.ts';
import { REPO_ROOT } from '../support/device-process.ts';

test('the resource table of docs/rest-api.md equals the route declarations', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'metergate-doc-'));
  const options = parseDeviceOptions(
    ['--data-dir', dir, '--http-port', '0', '--https-port', '0', '--display', 'none', '--sim'],
    { isTTY: false, webDir: join(REPO_ROOT, 'dist', 'web') },
  );
  assert.notEqual(options, 'help');
  if (options === 'help') return;
  const device = await bootDevice(options, { log: () => {}, now: Date.now });
  try {
    const declared = (device.routes?.declared ?? []).map((r) => `${r.method} ${r.path} ${r.requires}`).sort();
    const doc = readFileSync(join(REPO_ROOT, 'docs', 'rest-api.md'), 'utf8');
    const documented = [...doc.matchAll(/^\| (GET|POST|PUT|PATCH|DELETE) \| `([^`]+)` \| ([\w.-]+) \|/gm)]
      .map((m) => `${m[1]} ${m[2]} ${m[3]}`)
      .sort();
    assert.ok(declared.length > 20, 'routes were declared');
    assert.deepEqual(documented, declared);
  } finally {
    await device.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
