/**
 * The client whitelist: an empty list lets every peer in; otherwise only peers inside one of its IPv4 or
 * IPv6 addresses or CIDR ranges, IPv4-mapped IPv6 peers matched as IPv4, loopback given no exception and
 * a peer without an address refused. parseWhitelistEntry accepts exactly addresses and ranges.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseWhitelistEntry } from '../../../firmware/core/security-settings-rules.ts';
import { createAddressFilter } from '../../../firmware/net/client-whitelist.ts';

function expectPeers(entries: string[], allowed: string[], refused: string[]): void {
  const filter = createAddressFilter(entries);
  for (const peer of allowed) assert.equal(filter(peer), true, `${peer} should pass ${entries.join(',')}`);
  for (const peer of refused)
    assert.equal(filter(peer), false, `${peer} should not pass ${entries.join(',')}`);
}

describe('createAddressFilter', () => {
  it('lets every peer in when the list is empty', () => {
    expectPeers([], ['192.0.2.1', '127.0.0.1', '::1', '2001:db8::1', '::ffff:10.0.0.1'], []);
  });

  it('matches a single IPv4 address exactly', () => {
    expectPeers(['192.0.2.10'], ['192.0.2.10'], ['192.0.2.11', '192.0.2.9', '10.0.0.1', '::1']);
  });

  it('matches an IPv4 CIDR range, whatever host bits the entry has', () => {
    expectPeers(
      ['10.1.0.0/16'],
      ['10.1.0.0', '10.1.255.255', '10.1.2.3'],
      ['10.0.255.255', '10.2.0.0', '11.1.0.1'],
    );
    expectPeers(['10.1.2.3/8'], ['10.200.0.1'], ['11.0.0.1']);
    expectPeers(['0.0.0.0/0'], ['1.2.3.4', '255.255.255.255'], []);
  });

  it('matches a single IPv6 address in any notation', () => {
    expectPeers(
      ['2001:db8::10'],
      ['2001:db8::10', '2001:DB8::10', '2001:db8:0:0:0:0:0:10'],
      ['2001:db8::11', '2001:db8::1:10', '192.0.2.10'],
    );
  });

  it('matches an IPv6 CIDR range', () => {
    expectPeers(
      ['2001:db8:1::/48'],
      ['2001:db8:1::1', '2001:db8:1:ffff::9'],
      ['2001:db8:2::1', '2001:db9:1::1'],
    );
    expectPeers(['fe80::/10'], ['fe80::1', 'febf::1'], ['fec0::1']);
  });

  it('matches IPv4-mapped IPv6 peers as IPv4', () => {
    expectPeers(
      ['192.0.2.0/24'],
      ['::ffff:192.0.2.7', '::FFFF:192.0.2.8', '::ffff:c000:209'],
      ['::ffff:192.0.3.7', '::ffff:c000:309'],
    );
    expectPeers(['192.0.2.7'], ['::ffff:192.0.2.7'], ['::ffff:192.0.2.8']);
  });

  it('gives loopback no exception', () => {
    expectPeers(['192.0.2.0/24'], [], ['127.0.0.1', '::1', '::ffff:127.0.0.1']);
    expectPeers(['127.0.0.1'], ['127.0.0.1', '::ffff:127.0.0.1'], ['127.0.0.2', '::1']);
    expectPeers(['::1'], ['::1'], ['127.0.0.1']);
  });

  it('lets a peer in that matches any one entry of several', () => {
    expectPeers(
      ['192.0.2.10', '10.0.0.0/8', '2001:db8::/32'],
      ['192.0.2.10', '10.9.8.7', '2001:db8::5'],
      ['192.0.2.11', '172.16.0.1', '2001:db9::5'],
    );
  });

  it('refuses a peer without an address, or with a malformed one', () => {
    expectPeers(['0.0.0.0/0', '::/0'], [], ['', 'not-an-address']);
    assert.equal(createAddressFilter(['10.0.0.0/8'])(undefined), false);
  });
});

describe('parseWhitelistEntry', () => {
  it('parses addresses and ranges of both families', () => {
    assert.deepEqual(parseWhitelistEntry('192.0.2.10'), { address: '192.0.2.10', family: 4, prefix: 32 });
    assert.deepEqual(parseWhitelistEntry('10.0.0.0/8'), { address: '10.0.0.0', family: 4, prefix: 8 });
    assert.deepEqual(parseWhitelistEntry('0.0.0.0/0'), { address: '0.0.0.0', family: 4, prefix: 0 });
    assert.deepEqual(parseWhitelistEntry('2001:db8::1'), { address: '2001:db8::1', family: 6, prefix: 128 });
    assert.deepEqual(parseWhitelistEntry('2001:db8::/32'), { address: '2001:db8::', family: 6, prefix: 32 });
    assert.deepEqual(parseWhitelistEntry('::ffff:192.0.2.1'), {
      address: '::ffff:192.0.2.1',
      family: 6,
      prefix: 128,
    });
  });

  it('rejects malformed entries', () => {
    for (const entry of [
      '',
      ' ',
      '192.0.2.10 ',
      ' 192.0.2.10',
      '192.0.2',
      '192.0.2.256',
      '192.0.2.010',
      '192.0.2.10/',
      '192.0.2.10/33',
      '192.0.2.10/-1',
      '192.0.2.10/8/8',
      '192.0.2.10/1234',
      '192.0.2.10/a',
      '2001:db8::/129',
      '2001:db8:::1',
      '2001:db8::g',
      'localhost',
      '*',
      '192.0.2.*',
      '192.0.2.1-192.0.2.9',
    ]) {
      assert.equal(parseWhitelistEntry(entry), null, JSON.stringify(entry));
    }
  });
});
