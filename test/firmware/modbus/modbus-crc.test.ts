/**
 * CRC-16/Modbus: the catalogued check value ("123456789" → 0x4B37), frames from the Modbus serial line
 * spec and real devices (CRC sent low byte first), and detection of any single flipped bit.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crc16Modbus, hasValidCrc, withCrc } from '../../../firmware/modbus/modbus-crc.ts';

const bytes = (hex: string) => Uint8Array.from(Buffer.from(hex.replace(/ /g, ''), 'hex'));

describe('CRC-16/Modbus', () => {
  it('gives the catalogued check value of "123456789"', () => {
    assert.equal(crc16Modbus(new TextEncoder().encode('123456789')), 0x4b37);
  });

  it('gives 0xFFFF (the initial value) for no bytes', () => {
    assert.equal(crc16Modbus(new Uint8Array(0)), 0xffff);
  });

  it('appends the CRC of known frames low byte first', () => {
    // FC3 of unit 1 and of unit 17 (Modbus spec examples), FC6 and FC4 as every RTU tutorial prints them.
    assert.deepEqual(withCrc(bytes('01 03 00 00 00 0a')), bytes('01 03 00 00 00 0a c5 cd'));
    assert.deepEqual(withCrc(bytes('11 03 00 6b 00 03')), bytes('11 03 00 6b 00 03 76 87'));
    assert.deepEqual(withCrc(bytes('01 06 00 01 00 03')), bytes('01 06 00 01 00 03 98 0b'));
    assert.deepEqual(withCrc(bytes('01 04 00 00 00 01')), bytes('01 04 00 00 00 01 31 ca'));
  });

  it('accepts a frame with its own CRC and refuses any single flipped bit', () => {
    const frame = withCrc(bytes('01 10 01 90 00 02 04 3f 80 00 00'));
    assert.ok(hasValidCrc(frame));
    for (let bit = 0; bit < frame.length * 8; bit++) {
      const flipped = frame.slice();
      flipped[bit >> 3] = (flipped[bit >> 3] as number) ^ (1 << (bit & 7));
      assert.equal(hasValidCrc(flipped), false, `bit ${bit}`);
    }
  });

  it('refuses frames too short to carry a CRC', () => {
    assert.equal(hasValidCrc(new Uint8Array(0)), false);
    assert.equal(hasValidCrc(bytes('ff ff')), false);
  });
});
