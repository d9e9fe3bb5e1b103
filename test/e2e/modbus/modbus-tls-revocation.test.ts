/**
 * Revocation of Modbus/TCP Security client certificates on the real device process, with an openssl CA
 * (`openssl ca -revoke`, `openssl ca -gencrl`) and real Modbus/TLS handshakes: a CRL uploaded for the
 * client CA is checked at every handshake (a revoked certificate is refused, the others still pass);
 * a CRL past its next-update refuses every client certificate until a fresh one is uploaded; a
 * certificate whose SHA-256 fingerprint is on the security setting `deniedCertificates` is refused, an
 * open connection of it dropped. Each refusal is a security event naming the reason and the
 * certificate. Bad CRLs and bad fingerprints are refused with a code naming what is wrong.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { MbapClient } from '../../support/modbus-tcp-client.ts';
import { createOpensslCa, type IssuedCertificate, type OpensslCa } from '../../support/openssl-ca.ts';
import { ADMIN_PASSWORD, type RestFixture, startRestFixture } from '../../support/rest-fixture.ts';

const READ_VOLTAGE = Uint8Array.of(0x03, 0x00, 0x00, 0x00, 0x02);

type TestContext = Parameters<typeof MbapClient.connect>[0];

interface CrlInfo {
  issuer: string;
  thisUpdate: string;
  nextUpdate: string;
  revoked: number;
  crlNumber: string | null;
}
interface ErrorBody {
  error: { code: string; field?: string; message: string };
}
interface AuditEvent {
  type: string;
  result: string;
  detail?: string;
}

describe('Modbus/TCP Security: revocation (CRL and fingerprint deny list)', () => {
  let fx: RestFixture;
  let ca: OpensslCa;
  let revoked: IssuedCertificate;
  let good: IssuedCertificate;
  const tlsPort = 19000 + Math.floor(Math.random() * 4000);
  const cleanups: (() => void | Promise<void>)[] = [];
  const later = { after: (fn: () => void | Promise<void>) => void cleanups.push(fn) };

  /** 'answered' when a request gets its answer over a fresh handshake, else 'refused'. */
  const outcome = (t: TestContext, client: IssuedCertificate) =>
    MbapClient.connect(t, tlsPort, { tls: { cert: client.cert, key: client.key } }).then(
      async (connection) => {
        // TLS 1.3 may finish the client side before the server's verdict arrives: then no answer comes.
        const answer = await connection.request(READ_VOLTAGE).catch(() => null);
        connection.close();
        return answer?.[0] === 0x03 ? 'answered' : 'refused';
      },
      () => 'refused',
    );
  const events = async (type: string) =>
    (await fx.admin.request<{ events: AuditEvent[] }>('GET', `/api/v1/audit?limit=200&type=${type}`)).body
      .events;
  const crlInfo = async () =>
    (await fx.admin.request<{ crl: CrlInfo | null }>('GET', '/api/v1/modbus/crl')).body;

  before(async () => {
    fx = await startRestFixture(['--modbus-tls-port', String(tlsPort)]);
    ca = createOpensslCa(later);
    assert.equal((await fx.admin.request('PUT', '/api/v1/modbus/ca', { ca: ca.cert })).status, 200);
    const enabled = await fx.admin.request('PATCH', '/api/v1/config', { communication: { modbusTls: true } });
    assert.equal(enabled.status, 200, JSON.stringify(enabled.body));
    revoked = ca.issueClient('VIEWER', 'revoked client');
    good = ca.issueClient('VIEWER', 'good client');
  });
  after(async () => {
    await fx?.close();
    for (const cleanup of cleanups) await cleanup();
  });

  it('a revoked certificate is refused at the handshake once the CRL is uploaded; others pass', async (t) => {
    assert.equal(await outcome(t, revoked), 'answered', 'before revocation');
    ca.revoke(revoked);
    const uploaded = await fx.admin.request<{ crl: CrlInfo }>('PUT', '/api/v1/modbus/crl', { crl: ca.crl() });
    assert.equal(await outcome(t, revoked), 'refused', 'the revoked certificate still gets through');
    assert.equal(await outcome(t, good), 'answered');
    assert.equal(uploaded.status, 200, JSON.stringify(uploaded.body));
    assert.equal(uploaded.body.crl.revoked, 1);
    assert.match(uploaded.body.crl.issuer, /metergate openssl CA/);
    const info = await crlInfo();
    assert.deepEqual(info.crl, uploaded.body.crl);
    assert.ok(Date.parse(info.crl?.nextUpdate ?? '') > Date.now());
    const refusals = await events('modbus.tls.handshake');
    const refusal = refusals.find((e) => e.detail?.includes(revoked.fingerprint256));
    assert.equal(refusal?.result, 'denied', JSON.stringify(refusals));
    assert.match(refusal?.detail ?? '', /^revoked /);
  });

  it('CRL uploads that cannot be right are refused naming the reason, and change nothing', async () => {
    const before = await crlInfo();
    const other = createOpensslCa(later, 'some other CA');
    const cases: [string, unknown, number, string][] = [
      ['garbage', { crl: 'not a CRL' }, 400, 'crl-invalid'],
      ['a certificate instead', { crl: ca.cert }, 400, 'crl-invalid'],
      ['another CA', { crl: other.crl() }, 400, 'crl-wrong-issuer'],
      [
        'past its next update',
        {
          crl: ca.crl({
            lastUpdate: new Date(Date.now() - 7200_000),
            nextUpdate: new Date(Date.now() - 3600_000),
          }),
        },
        400,
        'crl-expired',
      ],
      [
        'not yet valid',
        { crl: ca.crl({ lastUpdate: new Date(Date.now() + 3600_000) }) },
        400,
        'crl-not-yet-valid',
      ],
    ];
    for (const [what, body, status, code] of cases) {
      const response = await fx.admin.request<ErrorBody>('PUT', '/api/v1/modbus/crl', body);
      assert.equal(response.status, status, `${what}: ${JSON.stringify(response.body)}`);
      assert.equal(response.body.error.code, code, what);
      assert.equal(response.body.error.field, 'crl', what);
      assert.deepEqual(await crlInfo(), before, `${what}: the CRL changed`);
    }
    const plain = fx.http();
    await plain.login('admin', ADMIN_PASSWORD);
    const overHttp = await plain.request<ErrorBody>('PUT', '/api/v1/modbus/crl', { crl: ca.crl() });
    assert.equal(overHttp.status, 403);
    assert.equal(overHttp.body.error.code, 'https-required');
  });

  it('a denied fingerprint is refused at the handshake and its open connection dropped', async (t) => {
    const open = await MbapClient.connect(t, tlsPort, { tls: { cert: good.cert, key: good.key } });
    assert.equal((await open.request(READ_VOLTAGE))[0], 0x03);
    const denied = await fx.admin.request<{ deniedCertificates: string[] }>('PATCH', '/api/v1/security', {
      deniedCertificates: [good.fingerprint256.toLowerCase()],
    });
    assert.equal(await outcome(t, good), 'refused', 'the denied certificate still gets through');
    assert.equal(denied.status, 200, JSON.stringify(denied.body));
    assert.deepEqual(denied.body.deniedCertificates, [good.fingerprint256]);
    assert.equal(await open.closesWithin(5000), true, 'the open connection of a denied certificate stays');
    const other = ca.issueClient('VIEWER', 'another good client');
    assert.equal(await outcome(t, other), 'answered');
    const refusal = (await events('modbus.tls.handshake')).find((e) =>
      e.detail?.includes(good.fingerprint256),
    );
    assert.match(refusal?.detail ?? '', /^denied /);

    const cleared = await fx.admin.request('PATCH', '/api/v1/security', { deniedCertificates: [] });
    assert.equal(cleared.status, 200);
    assert.equal(await outcome(t, good), 'answered');
  });

  it('bad deny-list entries are refused naming the entry', async () => {
    const fingerprint = (i: number) => i.toString(16).padStart(2, '0').repeat(32);
    const cases: [string, unknown, string][] = [
      ['not hex', ['xyz'], 'deniedCertificates[0]'],
      ['too short', [good.fingerprint256.slice(3)], 'deniedCertificates[0]'],
      ['too many', Array.from({ length: 17 }, (_, i) => fingerprint(i)), 'deniedCertificates'],
    ];
    for (const [what, list, field] of cases) {
      const response = await fx.admin.request<ErrorBody>('PATCH', '/api/v1/security', {
        deniedCertificates: list,
      });
      assert.equal(response.status, 400, `${what}: ${JSON.stringify(response.body)}`);
      assert.equal(response.body.error.field, field, what);
    }
  });

  it('a CRL past its next update refuses every client certificate, with an event, until a fresh one', async (t) => {
    const nextUpdate = new Date(Date.now() + 4000);
    const short = await fx.admin.request('PUT', '/api/v1/modbus/crl', {
      crl: ca.crl({ lastUpdate: new Date(Date.now() - 60_000), nextUpdate }),
    });
    assert.equal(short.status, 200, JSON.stringify(short.body));
    assert.equal(await outcome(t, good), 'answered', 'while the CRL is current');
    // openssl writes times to the second: wait until the next update has surely passed.
    await sleep(Math.max(0, nextUpdate.getTime() - Date.now()) + 1500);
    assert.equal(await outcome(t, good), 'refused', 'an expired CRL is ignored');
    assert.equal(await outcome(t, ca.issueClient('OPERATOR', 'new client')), 'refused');
    const expired = (await events('modbus.tls.handshake')).find((e) => e.detail?.startsWith('crl-expired'));
    assert.equal(expired?.result, 'denied');

    assert.equal((await fx.admin.request('PUT', '/api/v1/modbus/crl', { crl: ca.crl() })).status, 200);
    assert.equal(await outcome(t, good), 'answered', 'after a fresh CRL');
    assert.equal(await outcome(t, revoked), 'refused');
  });

  it('a new client CA drops the CRL of the old one', async () => {
    const next = createOpensslCa(later, 'next CA');
    assert.equal((await fx.admin.request('PUT', '/api/v1/modbus/ca', { ca: next.cert })).status, 200);
    assert.equal((await crlInfo()).crl, null);
  });
});
