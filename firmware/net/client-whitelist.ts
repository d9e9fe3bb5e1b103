/**
 * The client whitelist (DESIGN §3 issue): IPv4/IPv6 addresses and CIDR ranges. Empty means every
 * address may connect; otherwise listeners drop other connections at accept, before a byte is read.
 * Loopback is not special. IPv4-mapped IPv6 peers (`::ffff:a.b.c.d`) are matched as IPv4.
 */
import { BlockList, isIPv4 } from 'node:net';
import { parseWhitelistEntry } from '../core/security-settings-rules.ts';

export type AddressFilter = (address: string | undefined) => boolean;

export function createAddressFilter(entries: readonly string[]): AddressFilter {
  if (entries.length === 0) return () => true;
  const list = new BlockList();
  for (const entry of entries) {
    const parsed = parseWhitelistEntry(entry);
    if (!parsed) continue;
    list.addSubnet(parsed.address, parsed.prefix, parsed.family === 4 ? 'ipv4' : 'ipv6');
  }
  return (address) => {
    if (!address) return false;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
    const plain = mapped ?? address;
    return list.check(plain, isIPv4(plain) ? 'ipv4' : 'ipv6');
  };
}
