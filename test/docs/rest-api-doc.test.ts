/**
 * docs/rest-api.md cannot drift from the code: its resource table lists exactly the declared routes,
 * each with the permission the route declares, and its error table every error code the REST
 * interface can answer with, under its status.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { bootDevice } from '../../firmware/boot/boot-device.ts';
import { parseDeviceOptions } from '../../firmware/boot/device-options.ts';
import {
  AUTH_STATUS,
  BACKUP_STATUS,
  CORE_STATUS,
  HTTP_EXCEPTION_CODES,
  REGISTRY_STATUS,
} from '../../firmware/http/api-error.ts';
import { SIM_ADAPTERS } from '../../sim/sim-adapters.ts';
import { REPO_ROOT } from '../support/device-process.ts';

test('the resource table of docs/rest-api.md equals the route declarations', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'metergate-doc-'));
  const options = parseDeviceOptions(
    ['--data-dir', dir, '--http-port', '0', '--https-port', '0', '--display', 'none', '--sim'],
    { isTTY: false, webDir: join(REPO_ROOT, 'dist', 'web') },
  );
  assert.notEqual(options, 'help');
  if (options === 'help') return;
  const device = await bootDevice(options, { ...SIM_ADAPTERS, log: () => {}, now: Date.now });
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

/** docs/rest-api.md's error table: status → the codes listed in its row. */
function documentedErrorCodes(doc: string): Map<number, Set<string>> {
  const table = new Map<number, Set<string>>();
  for (const row of doc.matchAll(/^\| (\d{3}) \| (.*) \|$/gm)) {
    table.set(
      Number(row[1]),
      new Set([...(row[2] as string).matchAll(/`([a-z-]+)`/g)].map((m) => m[1] as string)),
    );
  }
  return table;
}

/** Every `new ApiError(status, 'code'` in the firmware's sources. */
function apiErrorsInSources(dir: string): [number, string][] {
  const found: [number, string][] = [];
  for (const entry of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    if (!entry.endsWith('.ts')) continue;
    const text = readFileSync(join(dir, entry), 'utf8');
    for (const m of text.matchAll(/new ApiError\(\s*(\d{3}),\s*'([a-z-]+)'/g))
      found.push([Number(m[1]), m[2] as string]);
  }
  return found;
}

test('every error code the REST interface answers with is in the error table of docs/rest-api.md, under its status', () => {
  const documented = documentedErrorCodes(readFileSync(join(REPO_ROOT, 'docs', 'rest-api.md'), 'utf8'));
  const answered: [number, string][] = [
    ...Object.entries(CORE_STATUS).map(([code, status]): [number, string] => [status, code]),
    ...Object.entries(AUTH_STATUS).map(([code, status]): [number, string] => [status, code]),
    ...Object.entries(REGISTRY_STATUS).map(([code, status]): [number, string] => [status, code]),
    ...Object.entries(BACKUP_STATUS).map(([code, status]): [number, string] => [status, code]),
    ...Object.entries(HTTP_EXCEPTION_CODES).map(([status, code]): [number, string] => [Number(status), code]),
    ...apiErrorsInSources(join(REPO_ROOT, 'firmware')),
  ];
  assert.ok(answered.length > 30, 'codes were found');
  const missing = answered.filter(([status, code]) => !documented.get(status)?.has(code));
  assert.deepEqual(
    missing.map(([status, code]) => `${status} ${code}`),
    [],
    'codes the device answers with but docs/rest-api.md does not list under that status',
  );
});
