/**
 * What the device accepts as a certificate, checked before anything is stored and again at boot: an RSA
 * key of 2048–4096 bits or an EC key on P-256 or P-384, a signature with SHA-256 or better, a private
 * key that belongs to the certificate, a validity period that includes now (uploads only: at boot the
 * clock may be wrong, and an expired certificate still serves TLS), and finally a trial secure context
 * built by Node's TLS from exactly what would be stored. Each refusal is a CertificateError with a
 * stable code naming the reason and the field at fault (mapped to 400 in http/api-error.ts).
 *
 * Why these rules: a key or curve OpenSSL refuses (RSA-512) stops the listeners from starting, and a
 * curve TLS does not negotiate (secp256k1) fails every handshake; both used to be stored.
 */
import { createPrivateKey, createPublicKey, type KeyObject, X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { TLS_MIN_VERSION } from './tls-policy.ts';
import { loadX509 } from './x509-library.ts';

export type CertificateErrorCode =
  | 'certificate-invalid'
  | 'private-key-invalid'
  | 'key-mismatch'
  | 'key-too-weak'
  | 'key-unsupported'
  | 'signature-too-weak'
  | 'certificate-expired'
  | 'certificate-not-yet-valid'
  | 'certificate-unusable'
  | 'not-a-ca'
  | 'crl-invalid'
  | 'crl-wrong-issuer'
  | 'crl-expired'
  | 'crl-not-yet-valid'
  | 'no-modbus-ca';

export class CertificateError extends Error {
  override readonly name = 'CertificateError';

  constructor(
    readonly code: CertificateErrorCode,
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

export const MIN_RSA_BITS = 2048;
/** Larger keys make every handshake cost the device's CPU dearly without a security need. */
export const MAX_RSA_BITS = 4096;
/** OpenSSL's names of the curves accepted: P-256 and P-384. */
export const ACCEPTED_CURVES: readonly string[] = ['prime256v1', 'secp384r1'];

/** Signature algorithms accepted (SHA-256 or better), by OID. */
const ACCEPTED_SIGNATURES = new Map([
  ['1.2.840.113549.1.1.11', 'sha256WithRSAEncryption'],
  ['1.2.840.113549.1.1.12', 'sha384WithRSAEncryption'],
  ['1.2.840.113549.1.1.13', 'sha512WithRSAEncryption'],
  ['1.2.840.10045.4.3.2', 'ecdsa-with-SHA256'],
  ['1.2.840.10045.4.3.3', 'ecdsa-with-SHA384'],
  ['1.2.840.10045.4.3.4', 'ecdsa-with-SHA512'],
]);
/** Names of refused ones, for the message. */
const KNOWN_WEAK_SIGNATURES = new Map([
  ['1.2.840.113549.1.1.4', 'md5WithRSAEncryption'],
  ['1.2.840.113549.1.1.5', 'sha1WithRSAEncryption'],
  ['1.2.840.113549.1.1.14', 'sha224WithRSAEncryption'],
  ['1.2.840.113549.1.1.10', 'RSASSA-PSS'],
  ['1.2.840.10045.4.1', 'ecdsa-with-SHA1'],
  ['1.2.840.10045.4.3.1', 'ecdsa-with-SHA224'],
]);

/** The key rules, for the public key of a certificate or a private key. */
export function checkKey(key: KeyObject, field: string): void {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa') {
    const bits = details.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS)
      throw new CertificateError(
        'key-too-weak',
        field,
        `an RSA key of ${bits} bits; at least ${MIN_RSA_BITS} are needed`,
      );
    if (bits > MAX_RSA_BITS)
      throw new CertificateError(
        'key-unsupported',
        field,
        `an RSA key of ${bits} bits; at most ${MAX_RSA_BITS} are accepted`,
      );
    return;
  }
  if (key.asymmetricKeyType === 'ec') {
    const curve = details.namedCurve ?? 'an unnamed curve';
    if (!ACCEPTED_CURVES.includes(curve))
      throw new CertificateError('key-unsupported', field, `an EC key on ${curve}; use P-256 or P-384`);
    return;
  }
  throw new CertificateError(
    'key-unsupported',
    field,
    `a ${key.asymmetricKeyType ?? 'unknown'} key; use RSA (${MIN_RSA_BITS}–${MAX_RSA_BITS} bits) or EC (P-256, P-384)`,
  );
}

/** The signature rule: SHA-256 or better, RSA PKCS#1 v1.5 or ECDSA. */
export function checkSignature(cert: X509Certificate, field: string): void {
  const oid = signatureAlgorithmOid(cert.raw);
  if (oid !== null && ACCEPTED_SIGNATURES.has(oid)) return;
  const name = oid === null ? 'an unreadable algorithm' : (KNOWN_WEAK_SIGNATURES.get(oid) ?? oid);
  throw new CertificateError(
    'signature-too-weak',
    field,
    `signed with ${name}; SHA-256 or better (RSA PKCS#1 v1.5 or ECDSA) is needed`,
  );
}

function checkValidity(cert: X509Certificate, field: string, now: number): void {
  if (Date.parse(cert.validTo) < now)
    throw new CertificateError(
      'certificate-expired',
      field,
      `expired on ${new Date(cert.validTo).toISOString()}`,
    );
  if (Date.parse(cert.validFrom) > now)
    throw new CertificateError(
      'certificate-not-yet-valid',
      field,
      `not valid before ${new Date(cert.validFrom).toISOString()}`,
    );
}

function parseCertificate(pem: string, field: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch {
    throw new CertificateError('certificate-invalid', field, 'not a PEM X.509 certificate');
  }
}

/** Builds the secure context Node's TLS would build; a refusal names OpenSSL's reason. */
function trialContext(
  options: Parameters<typeof createSecureContext>[0],
  field: string,
  code: CertificateErrorCode,
) {
  try {
    createSecureContext({ minVersion: TLS_MIN_VERSION, ...options });
  } catch (error) {
    throw new CertificateError(code, field, `TLS cannot use it (${(error as Error).message})`);
  }
}

export interface ServerCertificate {
  readonly cert: X509Certificate;
  /** The private key as PKCS#8 PEM (what is stored). */
  readonly key: string;
}

/**
 * The device's own certificate (PEM, leaf first, chain after) and its private key. `now` null skips
 * the validity period (at boot). Throws CertificateError.
 */
export function checkServerCertificate(
  certificatePem: string,
  privateKeyPem: string,
  now: number | null,
): ServerCertificate {
  const cert = parseCertificate(certificatePem, 'certificate');
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(privateKeyPem);
  } catch {
    throw new CertificateError(
      'private-key-invalid',
      'privateKey',
      'not a PEM private key (PKCS#8, SEC1 or PKCS#1, unencrypted)',
    );
  }
  checkKey(createPublicKey(privateKey), 'privateKey');
  if (!cert.checkPrivateKey(privateKey))
    throw new CertificateError('key-mismatch', 'privateKey', 'does not belong to the certificate');
  checkSignature(cert, 'certificate');
  if (now !== null) checkValidity(cert, 'certificate', now);
  const key = privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
  trialContext({ cert: certificatePem, key }, 'certificate', 'certificate-unusable');
  return { cert, key };
}

/**
 * The Modbus/TCP Security client CA: a CA certificate, the key and signature rules, valid now (`now`
 * null skips the validity period: a restore, which puts back what the device had).
 */
export function checkCaCertificate(pem: string, now: number | null): X509Certificate {
  const cert = parseCertificate(pem, 'ca');
  if (!cert.ca)
    throw new CertificateError(
      'not-a-ca',
      'ca',
      'not a CA certificate (basicConstraints CA:TRUE is missing)',
    );
  checkKey(cert.publicKey, 'ca');
  checkSignature(cert, 'ca');
  if (now !== null) checkValidity(cert, 'ca', now);
  trialContext({ ca: [cert.toString()] }, 'ca', 'certificate-unusable');
  return cert;
}

/** What GET /api/v1/modbus/crl shows of the stored CRL. */
export interface CrlInfo {
  readonly issuer: string;
  readonly thisUpdate: string;
  readonly nextUpdate: string;
  /** How many certificates it revokes. */
  readonly revoked: number;
  /** The cRLNumber extension (decimal), or null when the CRL has none. */
  readonly crlNumber: string | null;
}

const CRL_NUMBER_OID = '2.5.29.20';

type X509Crl = InstanceType<ReturnType<typeof loadX509>['X509Crl']>;

function parseCrl(pem: string): X509Crl {
  if (!/^-----BEGIN X509 CRL-----/.test(pem.trim()))
    throw new CertificateError('crl-invalid', 'crl', 'not a PEM X.509 CRL (-----BEGIN X509 CRL-----)');
  try {
    return new (loadX509().X509Crl)(pem.trim());
  } catch {
    throw new CertificateError('crl-invalid', 'crl', 'not a PEM X.509 CRL');
  }
}

/** The stored CRL's information (it was checked when uploaded). */
export function crlInfo(pem: string): CrlInfo {
  const crl = parseCrl(pem);
  const number = crl.getExtension(CRL_NUMBER_OID);
  let crlNumber: string | null = null;
  if (number) {
    const value = new Uint8Array(number.value);
    // DER INTEGER: tag 0x02, a short length, the big-endian value.
    if (value[0] === 0x02 && value[1] === value.length - 2 && value.length > 2)
      crlNumber = BigInt(`0x${Buffer.from(value.subarray(2)).toString('hex')}`).toString();
  }
  return {
    issuer: crl.issuer,
    thisUpdate: crl.thisUpdate.toISOString(),
    nextUpdate: crl.nextUpdate?.toISOString() ?? '',
    revoked: crl.entries.length,
    crlNumber,
  };
}

/**
 * A CRL for the Modbus client CA: issued by it (name and signature), current now (this update past,
 * next update present and ahead), and accepted by Node's TLS beside that CA. Throws CertificateError.
 */
export async function checkCrl(crlPem: string, caPem: string, now: number): Promise<CrlInfo> {
  const crl = parseCrl(crlPem);
  const x509 = loadX509();
  const ca = new x509.X509Certificate(caPem);
  if (crl.issuer !== ca.subject)
    throw new CertificateError(
      'crl-wrong-issuer',
      'crl',
      `issued by '${crl.issuer}', not by the Modbus client CA '${ca.subject}'`,
    );
  const usage = ca.getExtension(x509.KeyUsagesExtension);
  if (usage && (usage.usages & x509.KeyUsageFlags.cRLSign) === 0)
    throw new CertificateError(
      'crl-wrong-issuer',
      'crl',
      "the Modbus client CA's keyUsage lacks cRLSign: TLS would accept no CRL it signs",
    );
  let verified = false;
  try {
    verified = await crl.verify({ publicKey: ca.publicKey });
  } catch {}
  if (!verified)
    throw new CertificateError(
      'crl-wrong-issuer',
      'crl',
      "its signature does not verify with the Modbus client CA's key",
    );
  if (crl.thisUpdate.getTime() > now)
    throw new CertificateError(
      'crl-not-yet-valid',
      'crl',
      `issued for ${crl.thisUpdate.toISOString()}, later than now`,
    );
  const nextUpdate = crl.nextUpdate;
  if (!nextUpdate)
    throw new CertificateError(
      'crl-invalid',
      'crl',
      'has no next update: the device could not tell when it is stale',
    );
  if (nextUpdate.getTime() <= now)
    throw new CertificateError('crl-expired', 'crl', `its next update was due ${nextUpdate.toISOString()}`);
  trialContext({ ca: [caPem], crl: crlPem }, 'crl', 'crl-invalid');
  return crlInfo(crlPem);
}

/**
 * The OID of a DER certificate's outer signatureAlgorithm (Certificate ::= SEQUENCE { tbsCertificate,
 * signatureAlgorithm AlgorithmIdentifier, signature }), or null when the bytes are not that shape.
 */
export function signatureAlgorithmOid(der: Uint8Array): string | null {
  const outer = element(der, 0);
  if (outer?.tag !== 0x30) return null;
  const tbs = element(der, outer.start);
  if (!tbs) return null;
  const algorithm = element(der, tbs.end);
  if (algorithm?.tag !== 0x30) return null;
  const oid = element(der, algorithm.start);
  if (oid?.tag !== 0x06 || oid.end > algorithm.end) return null;
  return decodeOid(der.subarray(oid.start, oid.end));
}

/** One DER element at `offset`: tag, where its content starts and ends; null if it does not fit. */
function element(bytes: Uint8Array, offset: number): { tag: number; start: number; end: number } | null {
  const tag = bytes[offset];
  const first = bytes[offset + 1];
  if (tag === undefined || first === undefined) return null;
  let start = offset + 2;
  let length = first;
  if (first & 0x80) {
    const octets = first & 0x7f;
    if (octets === 0 || octets > 4) return null;
    length = 0;
    for (let i = 0; i < octets; i++) {
      const byte = bytes[start + i];
      if (byte === undefined) return null;
      length = length * 256 + byte;
    }
    start += octets;
  }
  const end = start + length;
  return end > bytes.length ? null : { tag, start, end };
}

function decodeOid(bytes: Uint8Array): string | null {
  if (bytes.length === 0) return null;
  const parts: number[] = [];
  let value = 0;
  for (const byte of bytes) {
    value = value * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      parts.push(value);
      value = 0;
    }
  }
  const first = parts.shift();
  if (first === undefined) return null;
  const head = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80];
  return [...head, ...parts].join('.');
}
