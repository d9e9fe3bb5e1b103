/**
 * Certificates for Modbus/TCP Security tests, made with @peculiar/x509 as the device makes its own:
 * a test CA, client certificates it signs carrying any number of role extensions (or raw extension
 * values, to feed the role parser malformed ones), and a self-signed server certificate. ECDSA P-256.
 */
import 'reflect-metadata';
import { createPrivateKey, randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { MODBUS_ROLE_OID } from '../../firmware/modbus/certificate-role.ts';
import { generateSelfSignedCertificate } from '../../firmware/tls/self-signed-certificate.ts';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const DAY = 24 * 3600_000;

export interface TestCa {
  readonly name: string;
  /** PEM, for `ca()`. */
  readonly cert: string;
  readonly certificate: x509.X509Certificate;
  readonly keys: CryptoKeyPair;
}

export interface Credentials {
  /** PEM certificate and PKCS#8 PEM key, as `tls.connect` and `tls.createServer` take them. */
  readonly cert: string;
  readonly key: string;
  readonly der: Uint8Array;
}

/** The DER encoding of a UTF8String (tag 0x0C), as the role extension holds it. */
export function derUtf8String(text: string): Uint8Array {
  return derElement(0x0c, new TextEncoder().encode(text));
}

/** One DER element: tag, definite length, content. */
export function derElement(tag: number, content: Uint8Array): Uint8Array {
  const length =
    content.length < 0x80
      ? [content.length]
      : content.length < 0x100
        ? [0x81, content.length]
        : [0x82, content.length >> 8, content.length & 0xff];
  return Uint8Array.of(tag, ...length, ...content);
}

function newKeys(): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']) as Promise<CryptoKeyPair>;
}

async function pemKey(keys: CryptoKeyPair): Promise<string> {
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }).export({
    format: 'pem',
    type: 'pkcs8',
  }) as string;
}

const serial = () => `01${randomBytes(8).toString('hex')}`;

/** A self-signed CA certificate valid from yesterday for a year. */
export async function createTestCa(name = 'metergate test CA'): Promise<TestCa> {
  const keys = await newKeys();
  const now = Date.now();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${name}`,
    notBefore: new Date(now - DAY),
    notAfter: new Date(now + 365 * DAY),
    signingAlgorithm: ALGORITHM,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ],
  });
  return { name, cert: certificate.toString('pem'), certificate, keys };
}

export interface ClientCertificateOptions {
  readonly commonName?: string;
  /** Raw values of role extensions, one extension each (for malformed ones); added after `roles`. */
  readonly roleValues?: readonly Uint8Array[];
}

/**
 * A client certificate signed by `ca` with one role extension (OID MODBUS_ROLE_OID, a DER UTF8String)
 * per entry of `roles`: none, one, or several.
 */
export async function makeCertificateWithRoles(
  ca: TestCa,
  roles: readonly string[],
  options: ClientCertificateOptions = {},
): Promise<Credentials> {
  const keys = await newKeys();
  const now = Date.now();
  const values = [...roles.map(derUtf8String), ...(options.roleValues ?? [])];
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${options.commonName ?? `client ${roles.join('+') || 'without role'}`}`,
    issuer: ca.certificate.subject,
    notBefore: new Date(now - DAY),
    notAfter: new Date(now + 30 * DAY),
    signingAlgorithm: ALGORITHM,
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
      ...values.map((value) => new x509.Extension(MODBUS_ROLE_OID, false, new Uint8Array(value))),
    ],
  });
  return {
    cert: certificate.toString('pem'),
    key: await pemKey(keys),
    der: new Uint8Array(certificate.rawData),
  };
}

/** A self-signed server certificate for 127.0.0.1 (the device's own, in the listener tests). */
export async function makeServerCredentials(): Promise<Credentials> {
  const now = Date.now();
  const { cert, key } = await generateSelfSignedCertificate({
    subject: 'CN=metergate modbus test',
    ipAddresses: ['127.0.0.1'],
    notBefore: new Date(now - DAY),
    notAfter: new Date(now + 30 * DAY),
  });
  return { cert, key, der: new Uint8Array(new X509Certificate(cert).raw) };
}
