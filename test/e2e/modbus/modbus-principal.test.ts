/**
 * The Modbus TCP principal of the real device process is an entry, not a slot number (issue 14 §2).
 * Attacks: make a user the principal and delete it. (a) Every settings change, the display's
 * physical-presence "Clear whitelist" and "Modbus TCP off" included, was then refused ("modbusSlot must
 * name an occupied slot"); (b) the next entry created in that slot, an "all" API key, was what every
 * unauthenticated Modbus master acted as. Now the deletion sets the principal back to `anonymous` in the
 * same commit and logs it; the new key is not the principal; the display recovers. Plus: a local-only
 * user cannot be named principal.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { PERMISSIONS } from '../../../firmware/core/permission-table.ts';
import { type DisplayTerminal, loginAt, openTerminal } from '../../support/display-fixture.ts';
import { startPtyPair } from '../../support/modbus-rtu-fixture.ts';
import { type RestFixture, startRestFixture } from '../../support/rest-fixture.ts';

const FIELD_PASSWORD = 'Umspannwerk-West-58';
const PERMISSION_NAMES = PERMISSIONS.map((p) => p.name);

interface Config {
  communication: { modbusTcp: boolean; modbusSlot: number | null; rtuSlot: number | null };
}
interface ErrorBody {
  error: { code: string; message: string; field?: string };
}

/** `mbpoll` (libmodbus) writing holding registers, one request, bounded in time. */
function mbpollWrite(port: number, register: number, values: string[]) {
  return spawnSync(
    'mbpoll',
    ['-1', '-p', String(port), '-t', '4', '-r', String(register), '127.0.0.1', ...values],
    { encoding: 'utf8', timeout: 15_000 },
  );
}

describe('the Modbus principal bound to an entry, on the device process', () => {
  let fx: RestFixture;
  let terminal: DisplayTerminal;
  let modbusPort: number;
  /** The slot the deleted principal had, where the new API key lands. */
  let principalSlot: number;
  const cleanups: (() => void | Promise<void>)[] = [];
  const suite = { after: (fn: () => void | Promise<void>) => cleanups.push(fn) };

  before(async () => {
    const line = await startPtyPair(suite);
    fx = await startRestFixture(['--display', line.device, '--modbus-port', '0']);
    terminal = await openTerminal(suite, line.client);
    await terminal.repaint();
    await terminal.waitFor(/^VOLTAGE/);
    // Someone who can type their password on the display's picker, with every right.
    const engineer = await fx.admin.request('POST', '/api/v1/users', {
      type: 'user',
      name: 'feng',
      password: await fx.admin.seal('feng', FIELD_PASSWORD),
      permissions: PERMISSION_NAMES,
    });
    assert.equal(engineer.status, 201, JSON.stringify(engineer.body));
  });
  after(async () => {
    await fx?.close();
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('(a) deleting the principal entry sets Modbus back to anonymous in the same commit, logged; settings stay changeable', async () => {
    const created = await fx.admin.request<{ slot: number }>('POST', '/api/v1/users', {
      type: 'user',
      name: 'scada1',
      password: await fx.admin.seal('scada1', 'Leitwarte-Nord-77'),
      permissions: ['measurements.read', 'meters.read'],
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    principalSlot = created.body.slot;
    const set = await fx.admin.request<Config>('PATCH', '/api/v1/config', {
      communication: { modbusTcp: true, modbusSlot: principalSlot },
    });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    assert.equal(set.body.communication.modbusSlot, principalSlot);
    const whitelist = await fx.admin.request('PATCH', '/api/v1/security', { whitelist: ['127.0.0.0/8'] });
    assert.equal(whitelist.status, 200, JSON.stringify(whitelist.body));

    const removed = await fx.admin.request('DELETE', `/api/v1/users/${principalSlot}`);
    assert.equal(removed.status, 200, JSON.stringify(removed.body));
    const change = await fx.admin.request('PATCH', '/api/v1/security', { passwordMinLength: 10 });
    assert.equal(change.status, 200, `a settings change after the deletion: ${JSON.stringify(change.body)}`);
    const config = await fx.admin.request<Config>('GET', '/api/v1/config');
    assert.equal(config.body.communication.modbusSlot, 2, 'Modbus TCP acts as anonymous again');
    const audit = await fx.admin.request<{ events: { type: string; result: string; detail?: string }[] }>(
      'GET',
      '/api/v1/audit?type=modbus.principal.reset',
    );
    assert.deepEqual(
      audit.body.events.map((e) => [e.type, e.result]),
      [['modbus.principal.reset', 'ok']],
    );
    assert.match(
      audit.body.events[0]?.detail ?? '',
      new RegExp(`slot ${principalSlot} \\(scada1\\).*anonymous`),
    );
  });

  it('(a) at the display, Clear whitelist and Modbus TCP off work after the deletion, while the slot is empty', async () => {
    await loginAt(terminal, 'feng', FIELD_PASSWORD);
    await terminal.choose('Security');
    await terminal.waitFor(/^SECURITY/);
    await terminal.choose('Clear whitelist');
    await terminal.waitFor(/^CLEAR WHITELIST[\s\S]*OK:yes/);
    await terminal.press('ok');
    await terminal.waitFor(/Whitelist cleared/);
    const security = await fx.admin.request<{ whitelist: string[] }>('GET', '/api/v1/security');
    assert.deepEqual(security.body.whitelist, []);

    await terminal.press('ok');
    await terminal.waitFor(/^SECURITY/);
    await terminal.press('back');
    await terminal.waitFor(/^MENU/);
    await terminal.choose('Settings');
    await terminal.choose('Modbus TCP');
    await terminal.waitFor(/^MODBUS TCP[\s\S]*< on >/);
    await terminal.press('down');
    await terminal.waitFor('< off >');
    await terminal.press('ok');
    await terminal.waitFor(/>Modbus TCP\s+off\*/);
    await terminal.press('back');
    await terminal.waitFor('Store changes?');
    await terminal.press('ok');
    await terminal.waitFor('Changes stored');
    const config = await fx.admin.request<Config>('GET', '/api/v1/config');
    assert.equal(config.body.communication.modbusTcp, false);
  });

  it('(b) a new "all" API key in the same slot is not what an unauthenticated Modbus master acts as', async () => {
    const key = await fx.admin.request<{ slot: number }>('POST', '/api/v1/users', {
      type: 'api-key',
      name: 'plant.all',
      preset: 'all',
    });
    assert.equal(key.status, 201, JSON.stringify(key.body));
    assert.equal(key.body.slot, principalSlot, 'the key lands in the slot the principal had');
    const enable = await fx.admin.request('PATCH', '/api/v1/config', { communication: { modbusTcp: true } });
    assert.equal(enable.status, 200, JSON.stringify(enable.body));
    const info = await fx.admin.request<{ modbus: { tcpPort: number | null } }>('GET', '/api/v1/info');
    modbusPort = info.body.modbus.tcpPort as number;
    assert.ok(modbusPort > 0, JSON.stringify(info.body));

    // Resetting the energy meters needs meters.reset: the "all" key has it, anonymous has not.
    const write = mbpollWrite(modbusPort, 301, ['23205']);
    assert.notEqual(write.status, 0, `the meter reset was accepted:\n${write.stdout}${write.stderr}`);
    assert.match(write.stdout + write.stderr, /Illegal function/i);
    const meters = await fx.admin.request<{ resetAt: string | null }>('GET', '/api/v1/meters');
    assert.equal(meters.body.resetAt, null, 'the energy meters were not reset');
    const config = await fx.admin.request<Config>('GET', '/api/v1/config');
    assert.equal(config.body.communication.modbusSlot, 2);
  });

  it('a local-only user cannot be named Modbus principal (400 naming the field)', async () => {
    const created = await fx.admin.request<{ slot: number }>('POST', '/api/v1/users', {
      type: 'user',
      name: 'panel1',
      password: await fx.admin.seal('panel1', 'Schaltfeld-Ost-12'),
      permissions: ['measurements.read', 'meters.read', 'meters.reset'],
      localOnly: true,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    for (const field of ['modbusSlot', 'rtuSlot']) {
      const refused = await fx.admin.request<ErrorBody>('PATCH', '/api/v1/config', {
        communication: { [field]: created.body.slot },
      });
      assert.equal(refused.status, 400, JSON.stringify(refused.body));
      assert.equal(refused.body.error.code, 'invalid-setting');
      assert.equal(refused.body.error.field, `communication.${field}`);
      assert.match(refused.body.error.message, /local-only/);
    }
    const config = await fx.admin.request<Config>('GET', '/api/v1/config');
    assert.deepEqual([config.body.communication.modbusSlot, config.body.communication.rtuSlot], [2, 2]);
  });

  it('localgui, the display’s slot without login, cannot be named Modbus principal (400 naming the field)', async () => {
    for (const field of ['modbusSlot', 'rtuSlot']) {
      const refused = await fx.admin.request<ErrorBody>('PATCH', '/api/v1/config', {
        communication: { [field]: 1 },
      });
      assert.equal(refused.status, 400, JSON.stringify(refused.body));
      assert.equal(refused.body.error.code, 'invalid-setting');
      assert.equal(refused.body.error.field, `communication.${field}`);
      assert.match(refused.body.error.message, /localgui.*display/);
    }
    const config = await fx.admin.request<Config>('GET', '/api/v1/config');
    assert.deepEqual([config.body.communication.modbusSlot, config.body.communication.rtuSlot], [2, 2]);
  });
});
