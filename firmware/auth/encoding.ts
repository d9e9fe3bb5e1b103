/** base64url without padding: how every binary value travels in the REST API and the auth protocol. */

export function toBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

/** Decodes strict base64url; returns null for anything else (wrong alphabet, padding, wrong length). */
export function fromBase64Url(text: unknown, length?: number): Uint8Array | null {
  if (typeof text !== 'string' || !/^[A-Za-z0-9_-]*$/.test(text)) return null;
  const bytes = new Uint8Array(Buffer.from(text, 'base64url'));
  if (toBase64Url(bytes) !== text) return null;
  if (length !== undefined && bytes.length !== length) return null;
  return bytes;
}
