/**
 * A local-only entry acts only at the display, whatever interface tries (issue 14 §1). The attack: an
 * entry restricted to local operation is made the principal of Modbus TCP (`communication.modbusSlot`)
 * or RTU (`rtuSlot`); every unauthenticated master on the network or the RS-485 line then reads and
 * writes with that entry's rights. On the real device process, with a raw Modbus TCP client and a
 * serial client on a socat pty pair: the Modbus request gets exception 0x01 (the gate's answer for no
 * rights) and changes nothing, whether the entry was local-only when it was named principal or became
 * local-only afterwards.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openRawClient, readPdu, startPtyPair, writeSinglePdu } from '../../support/modbus-rtu-fixture.ts';
import { MbapClient } from '../../support/modbus-tcp-client.ts';
import { type RestFixture, startRestFixture } from '../../support/rest-fixture.ts';

const OPERATOR_PASSWORD = 'Schaltwarte 2026!';
/** Everything a Modbus master could want: read values and settings, reset, configure. */
const OPERATOR_RIGHTS = ['measurements.read', 'meters.read', 'meters.reset', 'config.read', 'config.write'];
/** Register 404 (word order) needs config.read, which `anonymous` lacks. */
const CONFIG_READ = readPdu(3, 404, 1);
/** Register 300: 0x5AA5 resets the energy meters (meters.reset). */
const METERS_RESET = writeSinglePdu(300, 0x5aa5);
const ILLEGAL_FUNCTION = 0x01;

type Transport = 'tcp' | 'rtu';

describe('a local-only entry as Modbus principal acts on no network interface', () => {
  let fx: RestFixture;
  let rtuClient: Awaited<ReturnType<typeof openRawClient>>;
  let tcpPort: number;
  const modbusPort = 19000 + Math.floor(Math.random() * 4000);
  /** The pty pair and the serial client, released after the device has stopped. */
  const cleanups: (() => void | Promise<void>)[] = [];
  const scope = { after: (fn: () => void | Promise<void>) => cleanups.push(fn) };

  before(async () => {
    const pty = await startPtyPair(scope);
    fx = await startRestFixture(['--modbus-port', String(modbusPort), '--rtu', pty.device]);
    const enabled = await fx.admin.request('PATCH', '/api/v1/config', {
      communication: { modbusTcp: true, modbusRtu: true },
    });
    assert.equal(enabled.status, 200, JSON.stringify(enabled.body));
    tcpPort = modbusPort;
    rtuClient = await openRawClient(scope, pty.client);
  });
  after(async () => {
    await fx?.close();
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  const field = (transport: Transport) => (transport === 'tcp' ? 'modbusSlot' : 'rtuSlot');

  /** One request over the transport; the answer PDU. */
  async function ask(t: { after(fn: () => void): void }, transport: Transport, pdu: Uint8Array) {
    if (transport === 'rtu') {
      const answer = await rtuClient.request(1, pdu, 3000);
      assert.ok(answer, 'the RTU line answers');
      return answer;
    }
    const client = await MbapClient.connect(t, tcpPort);
    try {
      return await client.request(pdu);
    } finally {
      client.close();
    }
  }

  async function createOperator(name: string, localOnly: boolean): Promise<number> {
    const created = await fx.admin.request<{ slot: number }>('POST', '/api/v1/users', {
      type: 'user',
      name,
      password: await fx.admin.seal(name, OPERATOR_PASSWORD),
      permissions: OPERATOR_RIGHTS,
      localOnly,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return created.body.slot;
  }

  async function resetAt(): Promise<string | null> {
    return (await fx.admin.request<{ resetAt: string | null }>('GET', '/api/v1/meters')).body.resetAt;
  }

  /** Back to `anonymous` as principal and the operator deleted, whatever the test did. */
  async function restore(slot: number, transport: Transport) {
    await fx.admin.request('PATCH', '/api/v1/config', { communication: { [field(transport)]: 2 } });
    await fx.admin.request('DELETE', `/api/v1/users/${slot}`);
  }

  /** Reads config and resets the meters as the principal: both refused with 0x01, nothing reset. */
  async function assertRefused(t: { after(fn: () => void): void }, transport: Transport) {
    const before = await resetAt();
    const read = await ask(t, transport, CONFIG_READ);
    assert.deepEqual([...read], [0x83, ILLEGAL_FUNCTION], 'a config read is refused with 0x01');
    const write = await ask(t, transport, METERS_RESET);
    assert.deepEqual([...write], [0x86, ILLEGAL_FUNCTION], 'a meters reset is refused with 0x01');
    assert.equal(await resetAt(), before, 'the meters were not reset');
  }

  for (const transport of ['tcp', 'rtu'] as const) {
    it(`${transport}: naming a local-only entry principal gives a master none of its rights`, async (t) => {
      const slot = await createOperator(`local_${transport}`, true);
      try {
        const named = await fx.admin.request('PATCH', '/api/v1/config', {
          communication: { [field(transport)]: slot },
        });
        // Refusing the setting itself is a defence too (the principal's own check); if it is stored,
        // the decision at each request must refuse.
        if (named.status === 200) await assertRefused(t, transport);
        else assert.ok(named.status >= 400 && named.status < 500, JSON.stringify(named.body));
      } finally {
        await restore(slot, transport);
      }
    });

    it(`${transport}: an entry made local-only after it became principal loses the network`, async (t) => {
      const slot = await createOperator(`later_${transport}`, false);
      try {
        const named = await fx.admin.request('PATCH', '/api/v1/config', {
          communication: { [field(transport)]: slot },
        });
        assert.equal(named.status, 200, JSON.stringify(named.body));
        // While it may act on the network, the master has its rights (the control of this test).
        const read = await ask(t, transport, CONFIG_READ);
        assert.equal(read[0], 0x03, `config read as the operator: ${[...read]}`);

        const restricted = await fx.admin.request('PATCH', `/api/v1/users/${slot}`, { localOnly: true });
        assert.equal(restricted.status, 200, JSON.stringify(restricted.body));
        await assertRefused(t, transport);
      } finally {
        await restore(slot, transport);
      }
    });
  }
});
