/**
 * The device's one TLS policy: TLS 1.2 or newer, and on the servers (HTTPS, Modbus/TCP Security) only
 * forward-secret AEAD suites in the server's order. Syslog's client uses the same minimum version.
 */

/** The oldest protocol any of the device's TLS endpoints (server or client) accepts. */
export const TLS_MIN_VERSION = 'TLSv1.2' as const;

/** TLS 1.2 suites the servers offer: ECDHE only (forward secrecy), AEAD only. TLS 1.3 suites are Node's. */
export const TLS_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/** The options every TLS server of the device spreads into its secure context. */
export const TLS_SERVER_POLICY = {
  minVersion: TLS_MIN_VERSION,
  ciphers: TLS_CIPHERS,
  honorCipherOrder: true,
} as const;
