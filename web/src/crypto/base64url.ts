/** base64url without padding in the browser (docs/auth-protocol.md §2), without Node's Buffer. */

export function toBase64Url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Decodes base64url; null when the text is not base64url of exactly `length` bytes. */
export function fromBase64Url(text: unknown, length: number): Uint8Array | null {
  if (typeof text !== 'string' || !/^[A-Za-z0-9_-]*$/.test(text)) return null;
  try {
    const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    return bytes.length === length ? bytes : null;
  } catch {
    return null;
  }
}
