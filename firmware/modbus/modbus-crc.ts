/**
 * CRC-16/Modbus (polynomial 0xA001 reflected, initial value 0xFFFF), the checksum that closes every
 * Modbus RTU frame, sent low byte first. Table-driven: it runs once per received and per sent frame.
 */

const TABLE = Uint16Array.from({ length: 256 }, (_, byte) => {
  let crc = byte;
  for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  return crc;
});

/** The CRC-16/Modbus of `bytes` (check value of ASCII "123456789": 0x4B37). */
export function crc16Modbus(bytes: Uint8Array): number {
  let crc = 0xffff;
  for (const byte of bytes) crc = (crc >>> 8) ^ (TABLE[(crc ^ byte) & 0xff] as number);
  return crc;
}

/** `body` followed by its CRC, low byte first: a complete RTU frame. */
export function withCrc(body: Uint8Array): Uint8Array {
  const frame = new Uint8Array(body.length + 2);
  frame.set(body);
  const crc = crc16Modbus(body);
  frame[body.length] = crc & 0xff;
  frame[body.length + 1] = crc >>> 8;
  return frame;
}

/** True when the last two bytes of `frame` are the CRC of the bytes before them. */
export function hasValidCrc(frame: Uint8Array): boolean {
  if (frame.length < 3) return false;
  const body = frame.subarray(0, frame.length - 2);
  const crc = crc16Modbus(body);
  return frame[frame.length - 2] === (crc & 0xff) && frame[frame.length - 1] === crc >>> 8;
}
