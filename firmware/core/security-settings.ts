/**
 * The security settings kept in the security record beside the user table: communication enables,
 * the client whitelist, TLS choice, lockout policy and password policy (DESIGN §4). Plain data with the
 * factory defaults; validation of changes arrives with the interfaces that change them.
 */
import { ANONYMOUS_SLOT } from './slots.ts';

export interface LockoutPolicy {
  /** Failures per (account, source) before each further attempt is delayed. */
  readonly delayAfterFailures: number;
  /** First delay in ms; doubles with every further failure. */
  readonly baseDelayMs: number;
  /** Failures per (account, source) after which the pair is locked. */
  readonly lockAfterFailures: number;
  readonly lockSeconds: number;
  /** Consecutive failures per account after which it is locked whatever the source (≤ 100, NIST SP 800-63B). */
  readonly accountLockAfterFailures: number;
}

export interface CommunicationSettings {
  readonly modbusTcp: boolean;
  readonly modbusRtu: boolean;
  readonly modbusTls: boolean;
  /**
   * The identity (`UserTable.ids`, not a slot number) of the entry whose permissions Modbus TCP
   * requests act with: a new entry in the same slot does not inherit it. Deleting that entry resets it
   * to `anonymous`. Interfaces show and take it as a slot number.
   */
  readonly modbusPrincipal: number;
  /** The same for Modbus RTU. */
  readonly rtuPrincipal: number;
  /** Accept API keys over plain HTTP (off: HTTPS only). */
  readonly apiKeysOverHttp: boolean;
}

/** Export of security events to a syslog collector (RFC 5424), off by default like every service. */
export interface SyslogSettings {
  /** `udp` (RFC 5426) or `tls` (RFC 5425, octet counting); `off` sends nothing. */
  readonly transport: 'off' | 'udp' | 'tls';
  /** The collector: an IP address or host name. */
  readonly host: string;
  readonly port: number;
  /** TLS: the collector certificate's SHA-256 fingerprint (hex, colons optional), the only trust. */
  readonly fingerprint: string | null;
}

/**
 * Plain HTTP: `on` (factory: how a new device is first reached), `redirect` (pages answer 308 to
 * HTTPS, the API answers `https-required`), `off` (the listener is closed).
 */
export type HttpMode = 'on' | 'redirect' | 'off';
export const HTTP_MODES: readonly HttpMode[] = ['on', 'redirect', 'off'];

export interface SecuritySettings {
  readonly passwordMinLength: number;
  readonly lockout: LockoutPolicy;
  readonly communication: CommunicationSettings;
  /** IPv4/IPv6 addresses and CIDR ranges; empty = every address may connect. */
  readonly whitelist: readonly string[];
  /** `self-signed` (generated at first boot) or `uploaded`. */
  readonly tls: 'self-signed' | 'uploaded';
  readonly syslog: SyslogSettings;
  readonly http: HttpMode;
  /**
   * Names the device answers to besides its IP addresses, `localhost` and its own host name (DNS
   * rebinding defence): what engineers type in the browser, e.g. `meter-17.plant.example`.
   */
  readonly hostnames: readonly string[];
  /**
   * Modbus/TCP Security client certificates refused at the handshake whatever their CA says: SHA-256
   * fingerprints of the DER certificate as 64 upper-case hex digits (no colons: the record's block is
   * small). For the few certificates that must stop now; the CA's CRL is the revocation for many.
   */
  readonly deniedCertificates: readonly string[];
}

export const DEFAULT_SECURITY_SETTINGS: SecuritySettings = {
  passwordMinLength: 8,
  lockout: {
    delayAfterFailures: 3,
    baseDelayMs: 1000,
    lockAfterFailures: 10,
    lockSeconds: 300,
    accountLockAfterFailures: 100,
  },
  communication: {
    modbusTcp: false,
    modbusRtu: false,
    modbusTls: false,
    // The predefined entries' identities are their slot numbers.
    modbusPrincipal: ANONYMOUS_SLOT,
    rtuPrincipal: ANONYMOUS_SLOT,
    apiKeysOverHttp: false,
  },
  whitelist: [],
  tls: 'self-signed',
  syslog: { transport: 'off', host: '', port: 514, fingerprint: null },
  http: 'on',
  hostnames: [],
  deniedCertificates: [],
};
