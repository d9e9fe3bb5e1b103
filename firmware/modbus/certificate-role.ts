/**
 * Modbus/TCP Security: the role a client certificate claims. The role travels in a certificate
 * extension with the OID below whose value is one DER UTF8String. The role is an IEC 62351-8 role name
 * (VIEWER, OPERATOR, ENGINEER, INSTALLER, SECADM, SECAUD; ASCII case ignored) and the connection acts
 * with that role template of the permission table, never as a user-table entry: an entry's name can be
 * deleted and reused, a role template cannot. Exactly one such extension holding exactly one string
 * that is one of those names gives a role; anything else (no role, several, an unknown name, a
 * malformed value) gives none, and the connection may then do nothing.
 */

import { ROLE_TEMPLATES, type RoleName } from '../core/permission-table.ts';
import type { Actor } from '../core/user-table.ts';
import { loadX509 } from '../tls/x509-library.ts';

/** The role extension (Modbus/TCP Security, PEN 50316 of the Modbus Organization). */
export const MODBUS_ROLE_OID = '1.3.6.1.4.1.50316.802.1';

export type CertificateRole =
  | { readonly role: string }
  | { readonly error: 'no-role' | 'several-roles' | 'malformed' };

/** What a certificate gives: a role template, or why it gives none (`claimed`: an unknown name). */
export type CertificateRoleTemplate =
  | { readonly role: RoleName }
  | { readonly error: 'no-role' | 'several-roles' | 'malformed' }
  | { readonly error: 'unknown-role'; readonly claimed: string };

const UTF8_STRING = 0x0c;
const SEQUENCE = 0x30;
const SET = 0x31;
/** A role name is short: a longer string is malformed. */
const MAX_ROLE_BYTES = 256;

/**
 * The IEC 62351-8 role template a role name stands for: the names of ROLE_TEMPLATES, ASCII letters in
 * any case ("Engineer" is ENGINEER); anything else, surrounding spaces included, is none.
 */
export function roleTemplateNamed(name: string): RoleName | null {
  if (!/^[A-Za-z]{1,16}$/.test(name)) return null;
  const upper = name.toUpperCase();
  return Object.hasOwn(ROLE_TEMPLATES, upper) ? (upper as RoleName) : null;
}

/** The principal of a certificate with this role: the template, no entry of the table (slot null). */
export function roleActor(role: RoleName): Actor {
  return {
    slot: null,
    role,
    permissions: ROLE_TEMPLATES[role].permissions,
    mustChangePassword: false,
    localOnly: false,
  };
}

/** The role template a DER client certificate gives, or why it gives none. Never throws. */
export function certificateRoleTemplate(der: Uint8Array): CertificateRoleTemplate {
  const found = roleFromCertificate(der);
  if (!('role' in found)) return found;
  const role = roleTemplateNamed(found.role);
  return role === null ? { error: 'unknown-role', claimed: found.role } : { role };
}

/** The role string of a DER client certificate (not yet mapped to a template). Never throws. */
export function roleFromCertificate(der: Uint8Array): CertificateRole {
  let values: ArrayBuffer[];
  try {
    const certificate = new (loadX509().X509Certificate)(new Uint8Array(der));
    values = certificate.extensions.filter((e) => e.type === MODBUS_ROLE_OID).map((e) => e.value);
  } catch {
    return { error: 'malformed' };
  }
  if (values.length === 0) return { error: 'no-role' };
  if (values.length > 1) return { error: 'several-roles' };
  return roleFromExtensionValue(new Uint8Array(values[0] as ArrayBuffer));
}

/**
 * The extension value: one UTF8String and nothing after it. Several strings, bare or in a SEQUENCE or
 * SET, are several roles; anything else, an empty or invalid UTF-8 string included, is malformed.
 */
export function roleFromExtensionValue(value: Uint8Array): CertificateRole {
  const top = readElements(value);
  if (top === null || top.length === 0) return { error: 'malformed' };
  const only = top.length === 1 ? (top[0] as DerElement) : null;
  if (only?.tag === UTF8_STRING) {
    const role = decodeUtf8(only.content);
    return role === null ? { error: 'malformed' } : { role };
  }
  const strings =
    only && (only.tag === SEQUENCE || only.tag === SET) ? readElements(only.content) : only ? null : top;
  if (strings && strings.length > 1 && strings.every((e) => e.tag === UTF8_STRING))
    return { error: 'several-roles' };
  return { error: 'malformed' };
}

interface DerElement {
  readonly tag: number;
  readonly content: Uint8Array;
}

/** Splits DER bytes into consecutive elements (single-byte tags, definite minimal lengths), or null. */
function readElements(bytes: Uint8Array): DerElement[] | null {
  const elements: DerElement[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const tag = bytes[offset] as number;
    if ((tag & 0x1f) === 0x1f) return null;
    const first = bytes[offset + 1];
    if (first === undefined) return null;
    offset += 2;
    let length = first;
    if (first & 0x80) {
      const octets = first & 0x7f;
      // Indefinite (0x80) or over 3 octets is not DER for anything a certificate extension holds.
      if (octets === 0 || octets > 3 || offset + octets > bytes.length) return null;
      length = 0;
      for (let i = 0; i < octets; i++) length = length * 256 + (bytes[offset + i] as number);
      if (length < 0x80 || (bytes[offset] as number) === 0) return null;
      offset += octets;
    }
    if (offset + length > bytes.length) return null;
    elements.push({ tag, content: bytes.subarray(offset, offset + length) });
    offset += length;
  }
  return elements;
}

function decodeUtf8(bytes: Uint8Array): string | null {
  if (bytes.length === 0 || bytes.length > MAX_ROLE_BYTES) return null;
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return null;
  }
}
