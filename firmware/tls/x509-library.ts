/**
 * @peculiar/x509, loaded on first use rather than at boot: importing it costs about as much as the rest
 * of the firmware's start, and only Modbus/TCP Security (client certificate roles, the client CA's
 * CRL) ever needs it. Node's own X509Certificate reads neither extensions by OID nor CRLs.
 */
import { webcrypto } from 'node:crypto';
import { createRequire } from 'node:module';

export type X509Module = typeof import('@peculiar/x509');
let x509: X509Module | null = null;

export function loadX509(): X509Module {
  if (x509) return x509;
  const require = createRequire(import.meta.url);
  // @peculiar/x509 declares its ASN.1 schemas with decorators that need the Reflect metadata API.
  require('reflect-metadata');
  const loaded = require('@peculiar/x509') as X509Module;
  loaded.cryptoProvider.set(webcrypto as unknown as Crypto);
  x509 = loaded;
  return loaded;
}
