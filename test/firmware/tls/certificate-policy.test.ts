/**
 * The certificate policy on certificates made by openssl: which keys, curves and signature digests
 * pass, each refusal's code and field, the signature OID read from DER (and nothing thrown on bytes
 * that are not a certificate), and that a key in any PEM form comes back as PKCS#8.
 */
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  CertificateError,
  checkCaCertificate,
  checkServerCertificate,
  signatureAlgorithmOid,
} from '../../../firmware/tls/certificate-policy.ts';
import { makeServerCertificate } from '../../support/openssl-ca.ts';

const refusedWith = (code: string, field: string) => (error: unknown) => {
  assert.ok(error instanceof CertificateError, String(error));
  assert.equal(error.code, code);
  assert.equal(error.field, field);
  assert.ok(error.message.startsWith(`${field}: `), error.message);
  return true;
};

describe('certificate policy', () => {
  it('accepts RSA 2048–4096 and EC P-256/P-384 signed with SHA-256 or better', (t) => {
    for (const options of [
      { key: 'rsa:2048' },
      { key: 'rsa:4096', digest: 'sha512' },
      { key: 'ec:prime256v1' },
      { key: 'ec:secp384r1', digest: 'sha384' },
    ]) {
      const made = makeServerCertificate(t, options);
      const checked = checkServerCertificate(made.cert, made.key, Date.now());
      assert.match(checked.key, /^-----BEGIN PRIVATE KEY-----/, options.key);
    }
  });

  it('refuses weak or unsupported keys and weak signatures, naming the reason', (t) => {
    const cases: [{ key: string; digest?: string }, string, string][] = [
      [{ key: 'rsa:1024' }, 'key-too-weak', 'privateKey'],
      [{ key: 'rsa:2048', digest: 'sha1' }, 'signature-too-weak', 'certificate'],
      [{ key: 'rsa:2048', digest: 'sha224' }, 'signature-too-weak', 'certificate'],
      [{ key: 'ec:prime256v1', digest: 'sha1' }, 'signature-too-weak', 'certificate'],
      [{ key: 'ec:secp256k1' }, 'key-unsupported', 'privateKey'],
      [{ key: 'ec:secp521r1', digest: 'sha512' }, 'key-unsupported', 'privateKey'],
      [{ key: 'ed25519' }, 'key-unsupported', 'privateKey'],
    ];
    for (const [options, code, field] of cases) {
      const made = makeServerCertificate(t, options);
      assert.throws(() => checkServerCertificate(made.cert, made.key, Date.now()), refusedWith(code, field));
      assert.throws(
        () => checkCaCertificate(makeServerCertificate(t, { ...options, ca: true }).cert, Date.now()),
        refusedWith(code, 'ca'),
      );
    }
  });

  it('refuses a foreign key, an expired certificate (uploads only), garbage', (t) => {
    const a = makeServerCertificate(t, { key: 'ec:prime256v1' });
    const b = makeServerCertificate(t, { key: 'ec:prime256v1' });
    assert.throws(
      () => checkServerCertificate(a.cert, b.key, Date.now()),
      refusedWith('key-mismatch', 'privateKey'),
    );
    const later = Date.now() + 60 * 24 * 3600_000;
    assert.throws(
      () => checkServerCertificate(a.cert, a.key, later),
      refusedWith('certificate-expired', 'certificate'),
    );
    // At boot (no clock check) the same certificate still serves.
    assert.doesNotThrow(() => checkServerCertificate(a.cert, a.key, null));
    assert.throws(
      () => checkServerCertificate('x', a.key, null),
      refusedWith('certificate-invalid', 'certificate'),
    );
    assert.throws(
      () => checkServerCertificate(a.cert, 'x', null),
      refusedWith('private-key-invalid', 'privateKey'),
    );
    assert.throws(() => checkCaCertificate(a.cert, Date.now()), refusedWith('not-a-ca', 'ca'));
    // A SEC1 key comes back as PKCS#8, the same key.
    const sec1 = createPrivateKey(a.key).export({ format: 'pem', type: 'sec1' }) as string;
    const checked = checkServerCertificate(a.cert, sec1, null);
    assert.equal(
      createPrivateKey(checked.key).export({ format: 'der', type: 'pkcs8' }).toString('hex'),
      createPrivateKey(a.key).export({ format: 'der', type: 'pkcs8' }).toString('hex'),
    );
  });

  it('reads the signature algorithm OID from DER, and null from anything else', (t) => {
    const rsa = makeServerCertificate(t, { key: 'rsa:2048', digest: 'sha384' });
    assert.equal(signatureAlgorithmOid(new X509Certificate(rsa.cert).raw), '1.2.840.113549.1.1.12');
    const ec = makeServerCertificate(t, { key: 'ec:prime256v1' });
    const der = new Uint8Array(new X509Certificate(ec.cert).raw);
    assert.equal(signatureAlgorithmOid(der), '1.2.840.10045.4.3.2');
    for (const bytes of [
      new Uint8Array(0),
      Uint8Array.of(0x30),
      Uint8Array.of(0x30, 0x84, 0xff),
      der.subarray(0, 40),
    ])
      assert.equal(signatureAlgorithmOid(bytes), null);
  });
});
