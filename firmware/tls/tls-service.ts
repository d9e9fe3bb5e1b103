/**
 * The device's HTTPS certificate: a self-signed ECDSA P-256 certificate made at first boot (SAN:
 * localhost, 127.0.0.1, ::1, the host name), or one a security.write user uploads. The certificate is
 * public (`tls/cert.pem`); the private key is kept sealed under a key derived from the root key
 * (`tls/key.sealed`), like every other secret, so it dies with a factory reset. Uploads pass the
 * certificate policy (certificate-policy.ts) before anything is stored; at boot a stored certificate
 * that fails it, or a key that does not open, is replaced by a new self-signed one and reported.
 * Also the Modbus/TCP Security client CA and its CRL, sealed for integrity. Every file here is read and
 * written through a FileStore: on the device the files are bound to the anti-rollback counter
 * (store/anchored-files.ts), so an older copy put back is refused at boot instead of trusted.
 */
import { randomBytes, X509Certificate } from 'node:crypto';
import { hostname } from 'node:os';
import nacl from 'tweetnacl';
import { ChangeSignal } from '../core/change-signal.ts';
import { deriveKey } from '../keys/record-keys.ts';
import type { FileStore } from '../store/anchored-files.ts';
import { cbor } from '../store/sealed-record.ts';
import {
  CertificateError,
  type CrlInfo,
  checkCaCertificate,
  checkCrl,
  checkServerCertificate,
  crlInfo,
} from './certificate-policy.ts';
import { generateSelfSignedCertificate } from './self-signed-certificate.ts';

export interface TlsCredentials {
  readonly cert: string;
  readonly key: string;
}

export interface TlsInfo {
  readonly source: 'self-signed' | 'uploaded';
  readonly subject: string;
  readonly issuer: string;
  readonly subjectAltName: string | null;
  /** SHA-256 of the DER certificate, colon-separated hex, as browsers show it. */
  readonly fingerprint256: string;
  readonly validFrom: string;
  readonly validTo: string;
}

const CERT_FILE = 'cert.pem';
const KEY_FILE = 'key.sealed';
/** The CA that Modbus/TCP Security client certificates must chain to, sealed for integrity. */
const MODBUS_CA_FILE = 'modbus-ca.sealed';
/** The CRL of that CA, sealed likewise; dropped when another CA is uploaded. */
const MODBUS_CRL_FILE = 'modbus-crl.sealed';

export interface CaInfo {
  readonly subject: string;
  readonly fingerprint256: string;
  readonly validFrom: string;
  readonly validTo: string;
}

/** The certificate, its key and the Modbus client CA and CRL as a backup holds them. */
export interface TlsSnapshot {
  readonly cert: string;
  readonly key: string;
  readonly source: TlsInfo['source'];
  readonly modbusCa: string | null;
  readonly modbusCrl: string | null;
}

export type TlsChange = 'certificate' | 'modbus-ca' | 'modbus-crl';

export class TlsService {
  /**
   * Emitted after an upload is stored: the HTTPS certificate (listeners reload it), the Modbus client CA
   * or its CRL (Modbus/TCP Security restarts, so every client shakes hands again against the new trust).
   */
  readonly changed = new ChangeSignal<TlsChange>();
  private credentials: TlsCredentials | null = null;
  private source: TlsInfo['source'] = 'self-signed';
  private readonly key: Uint8Array;

  /**
   * @param files where the files are read and written: on the device bound to the anti-rollback
   *   counter (AnchoredFiles); `PlainFiles` for a directory bound to nothing (tests, tools)
   */
  constructor(
    private readonly files: FileStore,
    rootKey: Uint8Array,
    private readonly now: () => number,
  ) {
    this.key = deriveKey(rootKey, 'tls-key');
  }

  /**
   * Loads the stored certificate, or makes a self-signed one: at first boot, and when the stored one
   * cannot be used. `problem` then says why (for the security log): `key-damaged` (the sealed key does
   * not open), `certificate-missing`, or the policy's code, with the refused certificate's fingerprint.
   */
  async ensure(): Promise<{ created: boolean; problem?: string }> {
    const loaded = this.load();
    if ('credentials' in loaded) {
      this.credentials = loaded.credentials;
      this.source = loaded.source;
      return { created: false };
    }
    this.store(await generateDeviceCertificate(this.now()), 'self-signed');
    return loaded.problem === null ? { created: true } : { created: true, problem: loaded.problem };
  }

  current(): TlsCredentials {
    if (!this.credentials) throw new Error('TLS credentials not loaded: call ensure() first');
    return this.credentials;
  }

  info(): TlsInfo {
    const cert = new X509Certificate(this.current().cert);
    return {
      source: this.source,
      subject: cert.subject,
      issuer: cert.issuer,
      subjectAltName: cert.subjectAltName ?? null,
      fingerprint256: cert.fingerprint256,
      validFrom: new Date(cert.validFrom).toISOString(),
      validTo: new Date(cert.validTo).toISOString(),
    };
  }

  /**
   * Checks an uploaded certificate (PEM, leaf first, chain after) and its private key against the
   * policy, a trial TLS context included, and only then stores it. Throws CertificateError naming the
   * reason and the field; nothing is stored then.
   */
  upload(certificatePem: string, privateKeyPem: string): TlsInfo {
    const { key } = checkServerCertificate(certificatePem, privateKeyPem, this.now());
    this.store({ cert: certificatePem, key }, 'uploaded');
    void this.changed.emit('certificate');
    return this.info();
  }

  /**
   * Back to a certificate of the device's own: a new self-signed certificate and key replace whatever
   * was there (an uploaded one included); listeners reload it as after an upload.
   */
  async reset(): Promise<TlsInfo> {
    this.store(await generateDeviceCertificate(this.now()), 'self-signed');
    void this.changed.emit('certificate');
    return this.info();
  }

  /** Everything this service keeps, as PEM, for a backup (backup-service.ts). */
  snapshot(): TlsSnapshot {
    return {
      cert: this.current().cert,
      key: this.current().key,
      source: this.source,
      modbusCa: this.modbusCa(),
      modbusCrl: this.modbusCrl(),
    };
  }

  /**
   * Checks a snapshot from a backup as a boot checks what it loads (the certificate and key serve
   * TLS; the CA is a CA; the CRL parses): throws CertificateError naming the field, changes nothing.
   * Validity dates are not checked: a restore puts back what the device had, and a CA or CRL out of
   * date is refused where it is used (at every Modbus/TLS handshake), as it was before.
   */
  checkSnapshot(snapshot: TlsSnapshot): void {
    checkServerCertificate(snapshot.cert, snapshot.key, null);
    if (snapshot.modbusCa !== null) checkCaCertificate(snapshot.modbusCa, null);
    if (snapshot.modbusCrl !== null) {
      if (snapshot.modbusCa === null)
        throw new CertificateError('no-modbus-ca', 'crl', 'the backup holds a CRL without its CA');
      crlInfo(snapshot.modbusCrl);
    }
  }

  /**
   * Replaces every file of this service with a checked snapshot in one write (one commit of the
   * anchors); listeners reload the certificate and restart Modbus/TCP Security.
   */
  restore(snapshot: TlsSnapshot): void {
    this.checkSnapshot(snapshot);
    const nonce = new Uint8Array(randomBytes(nacl.secretbox.nonceLength));
    const box = nacl.secretbox(cbor.encode({ key: snapshot.key, source: snapshot.source }), nonce, this.key);
    this.files.write({
      [KEY_FILE]: Buffer.concat([nonce, box]),
      [CERT_FILE]: Buffer.from(snapshot.cert),
      [MODBUS_CA_FILE]:
        snapshot.modbusCa === null ? null : this.seal(cbor.encode({ ca: snapshot.modbusCa.trim() })),
      [MODBUS_CRL_FILE]:
        snapshot.modbusCrl === null ? null : this.seal(cbor.encode({ crl: snapshot.modbusCrl.trim() })),
    });
    this.credentials = { cert: snapshot.cert, key: snapshot.key };
    this.source = snapshot.source;
    void this.changed.emit('certificate');
    void this.changed.emit('modbus-ca');
  }

  /**
   * PEM of the Modbus/TCP Security client CA, or null when none was uploaded (or it is unreadable).
   * Also null while any Modbus trust file (the CA, the CRL: every file here but the HTTPS certificate
   * and key) was refused at boot as not the committed version: Modbus/TCP Security then refuses every
   * client rather than trust an old CA or check against an old revocation list.
   */
  modbusCa(): string | null {
    if (this.files.refused().some((name) => name !== CERT_FILE && name !== KEY_FILE)) return null;
    try {
      const sealed = this.files.read(MODBUS_CA_FILE);
      const opened = sealed && this.open(sealed);
      return opened ? (cbor.decode(opened) as { ca: string }).ca : null;
    } catch {
      return null;
    }
  }

  modbusCaInfo(): CaInfo | null {
    const pem = this.modbusCa();
    return pem ? caInfo(new X509Certificate(pem)) : null;
  }

  /**
   * Checks (a CA certificate, the key and signature policy, valid now) and stores the Modbus client
   * CA; the CRL of the previous CA goes with it. Throws CertificateError naming `ca`.
   */
  uploadModbusCa(pem: string): CaInfo {
    const cert = checkCaCertificate(pem, this.now());
    this.files.write({
      [MODBUS_CA_FILE]: this.seal(cbor.encode({ ca: cert.toString() })),
      [MODBUS_CRL_FILE]: null,
    });
    void this.changed.emit('modbus-ca');
    return caInfo(cert);
  }

  /** PEM of the client CA's CRL, or null when none was uploaded (or it is unreadable). */
  modbusCrl(): string | null {
    try {
      const sealed = this.files.read(MODBUS_CRL_FILE);
      const opened = sealed && this.open(sealed);
      return opened ? (cbor.decode(opened) as { crl: string }).crl : null;
    } catch {
      return null;
    }
  }

  modbusCrlInfo(): CrlInfo | null {
    const pem = this.modbusCrl();
    try {
      return pem ? crlInfo(pem) : null;
    } catch {
      return null;
    }
  }

  /**
   * Checks (issued and signed by the client CA, current, accepted by TLS) and stores the client CA's
   * CRL, written like the CA. Throws CertificateError naming `crl` (`no-modbus-ca` without a CA).
   */
  async uploadModbusCrl(pem: string): Promise<CrlInfo> {
    const ca = this.modbusCa();
    if (ca === null)
      throw new CertificateError(
        'no-modbus-ca',
        'crl',
        'upload the Modbus client CA first: a CRL is for one CA',
      );
    const info = await checkCrl(pem, ca, this.now());
    this.files.write({ [MODBUS_CRL_FILE]: this.seal(cbor.encode({ crl: pem.trim() })) });
    // Open connections end; every client shakes hands again against the new CRL.
    void this.changed.emit('modbus-crl');
    return info;
  }

  private seal(data: Uint8Array): Buffer {
    const nonce = new Uint8Array(randomBytes(nacl.secretbox.nonceLength));
    return Buffer.concat([nonce, nacl.secretbox(data, nonce, this.key)]);
  }

  private open(sealed: Uint8Array): Uint8Array | null {
    return nacl.secretbox.open(
      sealed.subarray(nacl.secretbox.nonceLength),
      sealed.subarray(0, nacl.secretbox.nonceLength),
      this.key,
    );
  }

  /** The stored certificate if it can serve TLS; else why not (null: there is none, a first boot). */
  private load(): { credentials: TlsCredentials; source: TlsInfo['source'] } | { problem: string | null } {
    // A file refused by the rollback binding reads as absent (and was reported as file.rollback).
    const sealedKey = this.files.read(KEY_FILE);
    const certBytes = this.files.read(CERT_FILE);
    if (certBytes === null && sealedKey === null) return { problem: null };
    if (sealedKey === null) return { problem: 'key-missing' };
    let key: string;
    let source: unknown;
    try {
      const opened = this.open(sealedKey);
      if (!opened) return { problem: 'key-damaged: tls/key.sealed does not open under the root key' };
      ({ key, source } = cbor.decode(opened) as { key: string; source: unknown });
      if (typeof key !== 'string') throw new TypeError('no key');
    } catch {
      return { problem: 'key-damaged: tls/key.sealed holds no key' };
    }
    if (certBytes === null) return { problem: 'certificate-missing' };
    let cert: string;
    try {
      cert = certBytes.toString('utf8');
      checkServerCertificate(cert, key, null);
    } catch (error) {
      const code = error instanceof CertificateError ? error.code : 'certificate-unreadable';
      let fingerprint = '';
      try {
        fingerprint = ` cert=${new X509Certificate(certBytes).fingerprint256}`;
      } catch {}
      return { problem: `${code}${fingerprint}` };
    }
    return { credentials: { cert, key }, source: source === 'uploaded' ? 'uploaded' : 'self-signed' };
  }

  private store(credentials: TlsCredentials, source: TlsInfo['source']): void {
    const nonce = new Uint8Array(randomBytes(nacl.secretbox.nonceLength));
    const box = nacl.secretbox(cbor.encode({ key: credentials.key, source }), nonce, this.key);
    this.files.write({ [KEY_FILE]: Buffer.concat([nonce, box]), [CERT_FILE]: Buffer.from(credentials.cert) });
    this.credentials = credentials;
    this.source = source;
  }
}

function caInfo(cert: X509Certificate): CaInfo {
  return {
    subject: cert.subject,
    fingerprint256: cert.fingerprint256,
    validFrom: new Date(cert.validFrom).toISOString(),
    validTo: new Date(cert.validTo).toISOString(),
  };
}

/** The device's own: 10 years, SAN localhost, the host name, 127.0.0.1 and ::1. */
async function generateDeviceCertificate(now: number): Promise<TlsCredentials> {
  const host = hostname();
  const { cert, key } = await generateSelfSignedCertificate({
    subject: `CN=metergate ${host || 'device'}, O=metergate`,
    dnsNames: ['localhost', ...(host && host !== 'localhost' ? [host] : [])],
    ipAddresses: ['127.0.0.1', '::1'],
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 10 * 365 * 24 * 3600_000),
  });
  return { cert, key };
}
