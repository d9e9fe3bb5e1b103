/**
 * The device's HTTPS certificate: a self-signed ECDSA P-256 certificate made at first boot (SAN:
 * localhost, 127.0.0.1, ::1, the host name), or one a security.write user uploads. The certificate is
 * public (`tls/cert.pem`); the private key is kept sealed under a key derived from the root key
 * (`tls/key.sealed`), like every other secret, so it dies with a factory reset. Every file here is
 * read and written through a FileStore: on the device the files bound to the anti-rollback counter
 * (store/anchored-files.ts), so an older copy put back is refused at boot instead of trusted.
 */
import { createPrivateKey, randomBytes, X509Certificate } from 'node:crypto';
import { hostname } from 'node:os';
import nacl from 'tweetnacl';
import { CoreError } from '../core/core-error.ts';
import { type FileStore, PlainFiles } from '../store/anchored-files.ts';
import { deriveKey } from '../store/record-keys.ts';
import { cbor } from '../store/sealed-record.ts';
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

export interface CaInfo {
  readonly subject: string;
  readonly fingerprint256: string;
  readonly validFrom: string;
  readonly validTo: string;
}

export class TlsService {
  private credentials: TlsCredentials | null = null;
  private source: TlsInfo['source'] = 'self-signed';
  private readonly key: Uint8Array;

  constructor(
    dir: string,
    rootKey: Uint8Array,
    private readonly now: () => number,
    /** Where the files are read and written (default: plain files in `dir`, bound to nothing). */
    private readonly files: FileStore = new PlainFiles(dir),
  ) {
    this.key = deriveKey(rootKey, 'tls-key');
  }

  /** Loads the stored certificate, or makes the self-signed one when there is none (or it is unreadable). */
  async ensure(): Promise<{ created: boolean }> {
    const loaded = this.load();
    if (loaded) {
      this.credentials = loaded.credentials;
      this.source = loaded.source;
      return { created: false };
    }
    this.store(await generateDeviceCertificate(this.now()), 'self-signed');
    return { created: true };
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
   * Validates and installs an uploaded certificate (PEM, leaf first, chain after) and its private key.
   * Throws CoreError `invalid-setting` naming the field: unparsable, key not matching, expired or not
   * yet valid, or a key that is not EC/RSA.
   */
  upload(certificatePem: string, privateKeyPem: string): TlsInfo {
    const fail = (field: string, message: string): never => {
      throw new CoreError('invalid-setting', `${field}: ${message}`, { field });
    };
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(certificatePem);
    } catch {
      return fail('certificate', 'not a PEM X.509 certificate');
    }
    let key: ReturnType<typeof createPrivateKey>;
    try {
      key = createPrivateKey(privateKeyPem);
    } catch {
      return fail('privateKey', 'not a PEM private key (PKCS#8, SEC1 or PKCS#1, unencrypted)');
    }
    if (key.asymmetricKeyType !== 'ec' && key.asymmetricKeyType !== 'rsa') {
      fail('privateKey', `a ${key.asymmetricKeyType} key cannot serve TLS here; use EC (P-256) or RSA`);
    }
    if (!cert.checkPrivateKey(key)) fail('privateKey', 'does not belong to the certificate');
    const now = this.now();
    if (Date.parse(cert.validTo) < now)
      fail('certificate', `expired on ${new Date(cert.validTo).toISOString()}`);
    if (Date.parse(cert.validFrom) > now)
      fail('certificate', `not valid before ${new Date(cert.validFrom).toISOString()}`);
    this.store(
      { cert: certificatePem, key: key.export({ format: 'pem', type: 'pkcs8' }) as string },
      'uploaded',
    );
    return this.info();
  }

  /**
   * PEM of the Modbus/TCP Security client CA, or null when none was uploaded (or it is unreadable).
   * Also null while any Modbus trust file (the CA, a CRL: every file here but the HTTPS certificate
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

  /** Validates (a CA certificate, valid now) and stores the Modbus client CA; throws CoreError naming `ca`. */
  uploadModbusCa(pem: string): CaInfo {
    const fail = (message: string): never => {
      throw new CoreError('invalid-setting', `ca: ${message}`, { field: 'ca' });
    };
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(pem);
    } catch {
      return fail('not a PEM X.509 certificate');
    }
    if (!cert.ca) fail('not a CA certificate (basicConstraints CA:TRUE is missing)');
    const now = this.now();
    if (Date.parse(cert.validTo) < now) fail(`expired on ${new Date(cert.validTo).toISOString()}`);
    if (Date.parse(cert.validFrom) > now) fail(`not valid before ${new Date(cert.validFrom).toISOString()}`);
    this.files.write({ [MODBUS_CA_FILE]: this.seal(cbor.encode({ ca: cert.toString() })) });
    return caInfo(cert);
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

  private load(): { credentials: TlsCredentials; source: TlsInfo['source'] } | null {
    const sealed = this.files.read(KEY_FILE);
    const certBytes = this.files.read(CERT_FILE);
    if (sealed === null || certBytes === null) return null;
    try {
      const nonce = sealed.subarray(0, nacl.secretbox.nonceLength);
      const opened = nacl.secretbox.open(sealed.subarray(nacl.secretbox.nonceLength), nonce, this.key);
      if (!opened) return null;
      const { key, source } = cbor.decode(opened) as { key: string; source: TlsInfo['source'] };
      const cert = certBytes.toString('utf8');
      if (!new X509Certificate(cert).checkPrivateKey(createPrivateKey(key))) return null;
      return { credentials: { cert, key }, source: source === 'uploaded' ? 'uploaded' : 'self-signed' };
    } catch {
      return null;
    }
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
