/**
 * Modbus/TCP Security roles on the real device process, with certificates made by an openssl CA and a
 * real Modbus/TLS client. The role in a certificate is an IEC 62351-8 role name mapped to the
 * permission table's role templates, never a user-table entry: a certificate whose role once named the
 * user `eng1` does not become whatever entry is later called `eng1` (the attack: delete eng1, create an
 * API key named eng1 with "all", the certificate resets the energy meters).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MbapClient } from '../../support/modbus-tcp-client.ts';
import { createOpensslCa, type IssuedCertificate, type OpensslCa } from '../../support/openssl-ca.ts';
import { type RestFixture, type SlotView, startRestFixture } from '../../support/rest-fixture.ts';

const READ_VOLTAGE = Uint8Array.of(0x03, 0x00, 0x00, 0x00, 0x02);
const READ_CONFIG = Uint8Array.of(0x03, 0x01, 0x90, 0x00, 0x02);
/** FC6: 0x5AA5 to register 300 resets the energy meters (meters.reset). */
const RESET_METERS = Uint8Array.of(0x06, 0x01, 0x2c, 0x5a, 0xa5);

interface AuditEvent {
  type: string;
  result: string;
  slot?: number;
  role?: string;
  detail?: string;
}

describe('Modbus/TCP Security: the certificate role is an IEC 62351-8 role, not an entry name', () => {
  let fx: RestFixture;
  let ca: OpensslCa;
  const tlsPort = 19000 + Math.floor(Math.random() * 4000);
  const connect = (t: Parameters<typeof MbapClient.connect>[0], client: IssuedCertificate) =>
    MbapClient.connect(t, tlsPort, { tls: { cert: client.cert, key: client.key } });

  before(async () => {
    fx = await startRestFixture(['--modbus-tls-port', String(tlsPort)]);
    ca = createOpensslCa({ after: (fn) => cleanups.push(fn) });
    const uploaded = await fx.admin.request('PUT', '/api/v1/modbus/ca', { ca: ca.cert });
    assert.equal(uploaded.status, 200, JSON.stringify(uploaded.body));
    const enabled = await fx.admin.request('PATCH', '/api/v1/config', { communication: { modbusTls: true } });
    assert.equal(enabled.status, 200, JSON.stringify(enabled.body));
  });
  const cleanups: (() => void | Promise<void>)[] = [];
  after(async () => {
    await fx?.close();
    for (const cleanup of cleanups) await cleanup();
  });

  it('a role naming a deleted user does not become a new entry of that name (an "all" API key)', async (t) => {
    const created = await fx.admin.request('POST', '/api/v1/users', {
      type: 'user',
      name: 'eng1',
      password: await fx.admin.seal('eng1', 'Leitwarte Nord 42!'),
      permissions: ['measurements.read'],
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const slot = (created.body as { slot: number }).slot;
    const certificate = ca.issueClient('eng1');

    const before = await connect(t, certificate);
    assert.deepEqual([...(await before.request(RESET_METERS))], [0x86, 0x01], 'eng1 may not reset meters');
    before.close();

    assert.equal((await fx.admin.request('DELETE', `/api/v1/users/${slot}`)).status, 200);
    const key = await fx.admin.request('POST', '/api/v1/users', {
      type: 'api-key',
      name: 'eng1',
      preset: 'all',
    });
    assert.equal(key.status, 201, JSON.stringify(key.body));

    const afterwards = await connect(t, certificate);
    assert.deepEqual(
      [...(await afterwards.request(RESET_METERS))],
      [0x86, 0x01],
      'the certificate acts as the new "all" API key named eng1',
    );
    assert.deepEqual([...(await afterwards.request(READ_VOLTAGE))], [0x83, 0x01], 'eng1 is no role at all');
  });

  it('ENGINEER reads and writes the configuration but may not reset meters; OPERATOR may', async (t) => {
    const engineer = await connect(t, ca.issueClient('ENGINEER'));
    assert.equal((await engineer.request(READ_CONFIG))[0], 0x03);
    assert.deepEqual([...(await engineer.request(RESET_METERS))], [0x86, 0x01]);
    const operator = await connect(t, ca.issueClient('OPERATOR'));
    assert.deepEqual([...(await operator.request(RESET_METERS))], [...RESET_METERS]);
    const viewer = await connect(t, ca.issueClient('VIEWER'));
    assert.equal((await viewer.request(READ_VOLTAGE))[0], 0x03);
    assert.deepEqual([...(await viewer.request(RESET_METERS))], [0x86, 0x01]);
  });

  it('role names match without regard to ASCII case ("Operator" is OPERATOR)', async (t) => {
    const operator = await connect(t, ca.issueClient('Operator'));
    assert.deepEqual([...(await operator.request(RESET_METERS))], [...RESET_METERS]);
  });

  it('an entry named like a role gives the certificate nothing of its own', async (t) => {
    // A user named "viewer" holding only measurements.read: a VIEWER certificate still reads config.
    const created = await fx.admin.request('POST', '/api/v1/users', {
      type: 'user',
      name: 'VIEWER',
      password: await fx.admin.seal('VIEWER', 'Leitwarte Süd 43!'),
      permissions: ['measurements.read'],
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const viewer = await connect(t, ca.issueClient('VIEWER'));
    assert.equal((await viewer.request(READ_CONFIG))[0], 0x03);
    const slots = await fx.admin.request<{ slots: SlotView[] }>('GET', '/api/v1/users');
    const slot = slots.body.slots.find((s) => s.name === 'VIEWER')?.slot;
    assert.equal((await fx.admin.request('DELETE', `/api/v1/users/${slot}`)).status, 200);
    const again = await connect(t, ca.issueClient('VIEWER'));
    assert.equal((await again.request(READ_CONFIG))[0], 0x03);
  });

  for (const role of ['admin', 'anonymous', 'RBACMNT', 'VIEWER+OPERATOR']) {
    it(`role ${JSON.stringify(role)} is no role: every request answers 0x01`, async (t) => {
      const client = await connect(t, ca.issueClient(role));
      assert.deepEqual([...(await client.request(READ_VOLTAGE))], [0x83, 0x01]);
    });
  }

  it('events name the role, not a slot', async (t) => {
    const engineer = await connect(t, ca.issueClient('ENGINEER'));
    assert.deepEqual([...(await engineer.request(RESET_METERS))], [0x86, 0x01]);
    const operator = await connect(t, ca.issueClient('OPERATOR'));
    assert.deepEqual([...(await operator.request(RESET_METERS))], [...RESET_METERS]);
    const audit = await fx.admin.request<{ events: AuditEvent[] }>('GET', '/api/v1/audit?limit=200');
    const denied = audit.body.events.find((e) => e.type === 'modbus.write' && e.role === 'ENGINEER');
    assert.ok(denied, JSON.stringify(audit.body.events.slice(0, 10)));
    assert.equal(denied.slot, undefined);
    const reset = audit.body.events.find((e) => e.type === 'meters.reset' && e.result === 'ok');
    assert.equal(reset?.role, 'OPERATOR', JSON.stringify(reset));
    assert.equal(reset?.slot, undefined);
    const unknown = audit.body.events.find(
      (e) => e.type === 'modbus.tls.role' && e.detail?.includes('RBACMNT'),
    );
    assert.equal(unknown?.result, 'denied', JSON.stringify(unknown));
    assert.match(unknown?.detail ?? '', /^unknown-role role="RBACMNT" cert=([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  });
});
