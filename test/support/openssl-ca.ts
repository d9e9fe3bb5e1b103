/**
 * A certificate authority run by the openssl command line, as an integrator would run one: `openssl ca`
 * with an index file, so certificates can be revoked and CRLs issued (`openssl ca -gencrl`, with any
 * next-update, a past one included). Client certificates carry the Modbus/TCP Security role extension
 * (OID 1.3.6.1.4.1.50316.802.1, one DER UTF8String). Also makes the weak or unusual keys and
 * certificates the TLS policy tests upload. Everything lives in a temporary directory removed when the
 * test ends; openssl runs synchronously and time-bounded.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MODBUS_ROLE_OID } from '../../firmware/modbus/certificate-role.ts';

type TestContext = { after(fn: () => void | Promise<void>): void };

export interface IssuedCertificate {
  /** PEM certificate and PEM private key, as `tls.connect` takes them. */
  readonly cert: string;
  readonly key: string;
  readonly path: string;
  /** SHA-256 of the DER certificate, colon-separated upper-case hex (Node's `fingerprint256`). */
  readonly fingerprint256: string;
}

export interface OpensslCa {
  readonly dir: string;
  /** PEM of the CA certificate. */
  readonly cert: string;
  /** A client certificate with the role extension holding `role` (null: no role extension). */
  issueClient(role: string | null, commonName?: string): IssuedCertificate;
  revoke(certificate: IssuedCertificate): void;
  /** A PEM CRL of everything revoked so far; `nextUpdate` as a Date (in the past: an expired CRL). */
  crl(options?: { readonly lastUpdate?: Date; readonly nextUpdate?: Date }): string;
}

export function openssl(args: readonly string[], cwd?: string): string {
  return execFileSync('openssl', args, { cwd, encoding: 'utf8', timeout: 30_000, stdio: 'pipe' });
}

/** openssl's `YYYYMMDDHHMMSSZ` form. */
function generalizedTime(date: Date): string {
  return `${date.toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
}

export function tempDir(t: TestContext, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** An EC P-256 CA (basicConstraints CA:TRUE, keyCertSign + cRLSign) valid from yesterday for a year. */
export function createOpensslCa(t: TestContext, name = 'metergate openssl CA'): OpensslCa {
  const dir = tempDir(t, 'metergate-ca-');
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'serial'), '1000\n');
  writeFileSync(join(dir, 'crlnumber'), '01\n');
  writeFileSync(
    join(dir, 'ca.cnf'),
    [
      '[ ca ]',
      'default_ca = test_ca',
      '[ test_ca ]',
      `dir = ${dir}`,
      'database = $dir/index.txt',
      'serial = $dir/serial',
      'crlnumber = $dir/crlnumber',
      'new_certs_dir = $dir',
      'certificate = $dir/ca.pem',
      'private_key = $dir/ca.key',
      'default_md = sha256',
      'default_days = 30',
      'default_crl_days = 7',
      'policy = any',
      'unique_subject = no',
      'copy_extensions = none',
      '[ any ]',
      'commonName = supplied',
      '[ req ]',
      'distinguished_name = dn',
      '[ dn ]',
      '[ ca_ext ]',
      'basicConstraints = critical, CA:TRUE',
      'keyUsage = critical, keyCertSign, cRLSign',
      'subjectKeyIdentifier = hash',
      '',
    ].join('\n'),
  );
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key'], dir);
  openssl(
    [
      'req',
      '-new',
      '-x509',
      '-config',
      'ca.cnf',
      '-key',
      'ca.key',
      '-subj',
      `/CN=${name}`,
      '-days',
      '365',
      '-extensions',
      'ca_ext',
      '-out',
      'ca.pem',
    ],
    dir,
  );
  const cert = readFileSync(join(dir, 'ca.pem'), 'utf8');
  let issued = 0;
  return {
    dir,
    cert,
    issueClient(role, commonName) {
      const id = `client${++issued}`;
      const ext = join(dir, `${id}.ext`);
      writeFileSync(
        ext,
        [
          '[ client ]',
          'basicConstraints = critical, CA:FALSE',
          'keyUsage = critical, digitalSignature',
          'extendedKeyUsage = clientAuth',
          ...(role === null ? [] : [`${MODBUS_ROLE_OID} = ASN1:UTF8String:${role}`]),
          '',
        ].join('\n'),
      );
      openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${id}.key`], dir);
      openssl(
        [
          'req',
          '-new',
          '-config',
          'ca.cnf',
          '-key',
          `${id}.key`,
          '-subj',
          `/CN=${commonName ?? id}`,
          '-out',
          `${id}.csr`,
        ],
        dir,
      );
      openssl(
        [
          'ca',
          '-batch',
          '-config',
          'ca.cnf',
          '-notext',
          '-startdate',
          generalizedTime(new Date(Date.now() - 24 * 3600_000)),
          '-in',
          `${id}.csr`,
          '-extfile',
          ext,
          '-extensions',
          'client',
          '-out',
          `${id}.pem`,
        ],
        dir,
      );
      const path = join(dir, `${id}.pem`);
      const pem = readFileSync(path, 'utf8');
      return {
        cert: pem,
        key: readFileSync(join(dir, `${id}.key`), 'utf8'),
        path,
        fingerprint256: new X509Certificate(pem).fingerprint256,
      };
    },
    revoke(certificate) {
      openssl(['ca', '-config', 'ca.cnf', '-revoke', certificate.path], dir);
    },
    crl(options = {}) {
      const args = ['ca', '-config', 'ca.cnf', '-gencrl', '-out', 'crl.pem'];
      if (options.lastUpdate) args.push('-crl_lastupdate', generalizedTime(options.lastUpdate));
      if (options.nextUpdate) args.push('-crl_nextupdate', generalizedTime(options.nextUpdate));
      openssl(args, dir);
      return readFileSync(join(dir, 'crl.pem'), 'utf8');
    },
  };
}

export interface ServerCertificateOptions {
  /** `rsa:BITS`, `ec:CURVE` (openssl curve name, e.g. prime256v1, secp256k1) or `ed25519`. */
  readonly key: string;
  /** Signature digest (ignored for ed25519). Default sha256. */
  readonly digest?: string;
  readonly days?: number;
  /** basicConstraints CA:TRUE (for the Modbus client CA upload). */
  readonly ca?: boolean;
}

/** A self-signed server certificate for 127.0.0.1 made by openssl with any key and digest, weak ones too. */
export function makeServerCertificate(t: TestContext, options: ServerCertificateOptions): IssuedCertificate {
  const dir = tempDir(t, 'metergate-server-cert-');
  const [type, parameter] = options.key.split(':') as [string, string | undefined];
  if (type === 'rsa') {
    openssl(
      ['genpkey', '-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${parameter}`, '-out', 'key.pem'],
      dir,
    );
  } else if (type === 'ec') {
    openssl(
      ['genpkey', '-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${parameter}`, '-out', 'key.pem'],
      dir,
    );
  } else {
    openssl(['genpkey', '-algorithm', type, '-out', 'key.pem'], dir);
  }
  openssl(
    [
      'req',
      '-x509',
      '-key',
      'key.pem',
      ...(type === 'ed25519' ? [] : [`-${options.digest ?? 'sha256'}`]),
      '-subj',
      '/CN=metergate policy test',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-addext',
      `basicConstraints=critical,CA:${options.ca ? 'TRUE' : 'FALSE'}`,
      '-days',
      String(options.days ?? 30),
      '-out',
      'cert.pem',
    ],
    dir,
  );
  const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
  return {
    cert,
    key: readFileSync(join(dir, 'key.pem'), 'utf8'),
    path: join(dir, 'cert.pem'),
    fingerprint256: new X509Certificate(cert).fingerprint256,
  };
}

/** A CRL (nothing revoked, current for a week) issued by a CA given as PEM certificate and key. */
export function makeCrl(t: TestContext, caCert: string, caKey: string): string {
  const dir = tempDir(t, 'metergate-crl-');
  writeFileSync(join(dir, 'ca.pem'), caCert);
  writeFileSync(join(dir, 'ca.key'), caKey, { mode: 0o600 });
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'crlnumber'), '01\n');
  writeFileSync(
    join(dir, 'ca.cnf'),
    [
      '[ ca ]',
      'default_ca = test_ca',
      '[ test_ca ]',
      `dir = ${dir}`,
      'database = $dir/index.txt',
      'crlnumber = $dir/crlnumber',
      'certificate = $dir/ca.pem',
      'private_key = $dir/ca.key',
      'default_md = sha256',
      'default_crl_days = 7',
      '',
    ].join('\n'),
  );
  openssl(['ca', '-config', 'ca.cnf', '-gencrl', '-out', 'crl.pem'], dir);
  return readFileSync(join(dir, 'crl.pem'), 'utf8');
}
