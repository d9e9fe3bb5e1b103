/**
 * The website's idea of the REST API cannot drift from the device's: every route in ROUTES
 * (web/src/api.ts) is declared by the device with the same method, path and permission, and the pages
 * reach the API only through ROUTES. Also allowed(), which hides what the device would refuse.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { bootDevice } from '../../firmware/boot/boot-device.ts';
import { parseDeviceOptions } from '../../firmware/boot/device-options.ts';
import { SIM_ADAPTERS } from '../../sim/sim-adapters.ts';
import { allowed, type Me, ROUTES } from '../../web/src/api.ts';
import { REPO_ROOT } from '../support/device-process.ts';

/** Every source file under `dir`, recursively. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sources(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

describe('website routes', () => {
  it('each ROUTES entry is a device route with the same method, path and permission', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'metergate-web-routes-'));
    const options = parseDeviceOptions(
      ['--data-dir', dir, '--http-port', '0', '--https-port', '0', '--display', 'none', '--sim'],
      { isTTY: false, webDir: join(REPO_ROOT, 'dist', 'web') },
    );
    assert.notEqual(options, 'help');
    if (options === 'help') return;
    const device = await bootDevice(options, { ...SIM_ADAPTERS, log: () => {}, now: Date.now });
    try {
      const declared = device.routes?.declared ?? [];
      assert.ok(declared.length > 20, 'routes were declared');
      for (const [name, route] of Object.entries(ROUTES)) {
        const match = declared.find((d) => d.method === route.method && d.path === route.path);
        assert.ok(match, `ROUTES.${name}: the device declares no ${route.method} ${route.path}`);
        assert.equal(
          route.requires,
          match.requires,
          `ROUTES.${name} (${route.method} ${route.path}) says ${route.requires}, the device ${match.requires}`,
        );
      }
    } finally {
      await device.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names each route once', () => {
    const keys = Object.values(ROUTES).map((r) => `${r.method} ${r.path}`);
    assert.deepEqual([...new Set(keys)], keys);
  });

  it('the pages call the API only through ROUTES', () => {
    const webSrc = join(REPO_ROOT, 'web', 'src');
    for (const file of sources(webSrc)) {
      if (file === join(webSrc, 'api.ts')) continue;
      const text = readFileSync(file, 'utf8');
      // i18n.ts fetches its language packs, static assets of the site (I18N_PACKS), not the API.
      const forbidden = file === join(webSrc, 'i18n.ts') ? /\/api\/v1/ : /\/api\/v1|\bfetch\(/;
      assert.doesNotMatch(text, forbidden, `${relative(REPO_ROOT, file)} bypasses ROUTES`);
    }
  });
});

describe('allowed', () => {
  const me = (fields: Partial<Me>): Me => ({
    kind: 'session',
    slot: 3,
    name: 'operator1',
    type: 'user',
    permissions: [],
    mustChangePassword: false,
    ...fields,
  });
  const anonymous = me({ kind: 'anonymous', slot: 2, name: 'anonymous', permissions: ['measurements.read'] });
  const apiKey = me({
    kind: 'api-key',
    slot: 5,
    name: 'scada',
    type: 'api-key',
    permissions: ['meters.read'],
  });
  const operator = me({ permissions: ['measurements.read', 'config.read'] });
  const mustChange = me({ permissions: ['measurements.read'], mustChangePassword: true });

  it('lets anyone use a public route, even before /me answered', () => {
    for (const who of [null, anonymous, apiKey, operator, mustChange])
      assert.equal(allowed(who, 'public'), true);
  });

  it('gives user-session routes to sessions only, also while the password must change', () => {
    assert.equal(allowed(null, 'user-session'), false);
    assert.equal(allowed(anonymous, 'user-session'), false);
    assert.equal(allowed(apiKey, 'user-session'), false);
    assert.equal(allowed(operator, 'user-session'), true);
    assert.equal(allowed(mustChange, 'user-session'), true);
  });

  it('gives a permission route to whoever holds the permission and need not change a password', () => {
    assert.equal(allowed(null, 'measurements.read'), false);
    assert.equal(allowed(anonymous, 'measurements.read'), true);
    assert.equal(allowed(anonymous, 'config.read'), false);
    assert.equal(allowed(apiKey, 'meters.read'), true);
    assert.equal(allowed(apiKey, 'measurements.read'), false);
    assert.equal(allowed(operator, 'config.read'), true);
    assert.equal(allowed(operator, 'config.write'), false);
    assert.equal(allowed(mustChange, 'measurements.read'), false);
  });
});
