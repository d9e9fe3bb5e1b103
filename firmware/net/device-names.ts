/**
 * The device's own names, the defence against DNS rebinding: a browser sends the name it resolved in
 * `Host`, so a page whose attacker-controlled name re-resolves to the meter still says
 * `Host: attacker.example`. A request is served only when its Host is one of the device's names: an IP
 * literal of an interface it listens on (v4 or v6, with or without port), `localhost`, the board's own
 * host name (`name`, `name.local`), or a host name an administrator configured (security settings
 * `hostnames`). Origins of state-changing requests are checked against the same set, never against
 * the Host they came with.
 */
import { isIP } from 'node:net';
import { networkInterfaces, hostname as systemHostname } from 'node:os';

export interface DeviceNames {
  /**
   * Is `host` (a Host header value, or the host part of an Origin: `name`, `name:port`, `1.2.3.4:80`,
   * `[::1]:8443`) one of the device's names? `localAddress` is the address the connection arrived on;
   * `configured` replaces the configured names (to ask about a change before it is made).
   */
  isOwn(host: string | undefined, localAddress?: string, configured?: readonly string[]): boolean;
}

export interface DeviceNamesOptions {
  /** The address the listeners are bound to (`--host`): a wildcard means every interface's address. */
  readonly boundHost: string;
  /** The host names an administrator configured (security settings). */
  readonly configured: () => readonly string[];
  /** The board's addresses. Default: node's view of the network interfaces, re-read at most every 5 s. */
  readonly interfaceAddresses?: () => readonly string[];
  /** The board's host name. Default: the OS's. */
  readonly systemHostname?: string;
}

const WILDCARDS = new Set(['0.0.0.0', '::', '']);
const PORT = /^\d{1,5}$/;

export function createDeviceNames(options: DeviceNamesOptions): DeviceNames {
  const interfaceAddresses = options.interfaceAddresses ?? cachedInterfaceAddresses();
  const system = (options.systemHostname ?? systemHostname()).toLowerCase();
  const builtIn = new Set(['localhost', system, `${system}.local`].filter((name) => name !== '.local'));
  const bound = normalizeAddress(options.boundHost);
  let configuredFrom: readonly string[] | null = null;
  let configured = new Set<string>();

  return {
    isOwn(host, localAddress, configuredNow) {
      const name = hostPart(host);
      if (name === null) return false;
      const extra = configuredNames(configuredNow ?? options.configured());
      if (isIP(name)) {
        const address = normalizeAddress(name);
        if (localAddress !== undefined && address === normalizeAddress(localAddress)) return true;
        if (extra.has(address)) return true;
        if (!WILDCARDS.has(bound)) return address === bound;
        return interfaceAddresses().some((a) => normalizeAddress(a) === address);
      }
      return builtIn.has(name) || extra.has(name);
    },
  };

  /** The configured names as a set, made again only when the settings hold another list. */
  function configuredNames(names: readonly string[]): Set<string> {
    if (names === configuredFrom) return configured;
    const set = new Set(names.map((n) => (isIP(n) ? normalizeAddress(n) : canonicalName(n))));
    if (names === options.configured()) {
      configuredFrom = names;
      configured = set;
    }
    return set;
  }
}

/**
 * The host of a Host header or Origin authority, lower-cased and without a trailing dot, brackets or
 * port; null when it is not well-formed (a bad port, an unclosed bracket, an empty name).
 */
export function hostPart(authority: string | undefined): string | null {
  if (authority === undefined) return null;
  let host = authority.trim();
  let port: string | undefined;
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    if (end < 0) return null;
    const rest = host.slice(end + 1);
    if (rest !== '' && !(rest.startsWith(':') && PORT.test(rest.slice(1)))) return null;
    host = host.slice(1, end);
    return isIP(host) === 6 ? host.toLowerCase() : null;
  }
  const colon = host.lastIndexOf(':');
  if (colon >= 0) {
    port = host.slice(colon + 1);
    host = host.slice(0, colon);
    if (!PORT.test(port)) return null;
  }
  if (host === '' || host.includes(':')) return null;
  return canonicalName(host);
}

/** The port of a Host header or Origin authority, or undefined when it names none. */
export function portPart(authority: string): string | undefined {
  const match = /:(\d{1,5})$/.exec(authority);
  return match && !authority.endsWith(']') ? match[1] : undefined;
}

function canonicalName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/** One spelling per address: lower case, IPv4-mapped IPv6 as the IPv4 address, no zone. */
function normalizeAddress(address: string): string {
  const plain = address.toLowerCase().replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(plain);
  return mapped ? (mapped[1] as string) : plain;
}

function cachedInterfaceAddresses(): () => readonly string[] {
  let addresses: string[] = [];
  let readAt = Number.NEGATIVE_INFINITY;
  return () => {
    const now = Date.now();
    if (now - readAt > 5_000) {
      readAt = now;
      addresses = Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address));
    }
    return addresses;
  };
}
