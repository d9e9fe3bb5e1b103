/**
 * Self-signed ECDSA P-256 / SHA-256 certificates, made with @peculiar/x509 (a maintained X.509
 * library, loaded on first use: only a first boot needs it). The device's own HTTPS certificate is one;
 * the tests and the bench make theirs the same way.
 */
import { randomBytes, webcrypto, X509Certificate } from 'node:crypto';

export interface SelfSignedOptions {
  /** Distinguished name, e.g. `CN=metergate, O=metergate`. */
  readonly subject: string;
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** A CA certificate (CA:TRUE, keyCertSign) instead of a TLS server one. */
  readonly ca?: boolean;
}

export interface SelfSignedCertificate {
  /** PEM certificate. */
  readonly cert: string;
  /** PEM PKCS#8 private key. */
  readonly key: string;
  /** SHA-256 of the DER certificate, colon-separated hex. */
  readonly fingerprint256: string;
}

export async function generateSelfSignedCertificate(
  options: SelfSignedOptions,
): Promise<SelfSignedCertificate> {
  await import('reflect-metadata');
  const x509 = await import('@peculiar/x509');
  x509.cryptoProvider.set(webcrypto as unknown as Crypto);
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as CryptoKeyPair;
  const names = [
    ...(options.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(options.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  const extensions: InstanceType<typeof x509.Extension>[] = options.ca
    ? [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      ]
    : [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
      ];
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names));
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    // A positive serial number of 128 random bits (the top bit cleared).
    serialNumber: Buffer.from(randomBytes(16))
      .toString('hex')
      .replace(/^[89a-f]/, '1'),
    name: options.subject,
    notBefore: options.notBefore,
    notAfter: options.notAfter,
    signingAlgorithm: algorithm,
    keys,
    extensions,
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64');
  const cert = certificate.toString('pem');
  return {
    cert,
    key: `-----BEGIN PRIVATE KEY-----\n${pkcs8.match(/.{1,64}/g)?.join('\n')}\n-----END PRIVATE KEY-----\n`,
    fingerprint256: new X509Certificate(cert).fingerprint256,
  };
}
