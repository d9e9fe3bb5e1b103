/**
 * The one access decision of the device (DESIGN §3): may this principal, arriving through this
 * interface, do what needs this? REST, the Modbus gate, the display and the services all ask here and
 * keep only their own translation of a refusal (HTTP 401/403, Modbus exception 0x01, display text).
 *
 * The rules, in the order they are applied:
 * 1. Interface: a local-only principal acts at the local display and nowhere else, whatever interface
 *    tries (a Modbus TCP/RTU principal setting, a certificate, a session).
 * 2. Password: a principal that must change its password may do nothing but change it (ETSI EN 303 645
 *    5.1-1).
 * 3. Permission: the principal's set holds the required bit.
 *
 * Pure: no sockets, files or clocks. An actor need not be a user-table entry (`slot` null: a Modbus/TCP
 * Security role template); the decision never reads the slot.
 */
import { CoreError } from './core-error.ts';
import { hasPermission, type PermissionName, type PermissionSet, permissionBit } from './permission-table.ts';

/** The interface a request came through. */
export type InterfaceName =
  | 'http'
  | 'https'
  | 'modbus-tcp'
  | 'modbus-tls'
  | 'modbus-rtu'
  | 'display'
  | 'cli'
  | 'system';

/** The only interface a local-only principal may act through. */
export const LOCAL_INTERFACE: InterfaceName = 'display';

/** Who acts, as the decision sees it. */
export interface AccessActor {
  /** The user-table slot acting, or null for a principal that is no entry (a certificate's role). */
  readonly slot: number | null;
  readonly permissions: PermissionSet;
  /** Holds nothing but the right to set its own password until it has. */
  readonly mustChangePassword: boolean;
  /** May act at the local display only. */
  readonly localOnly: boolean;
}

/**
 * What a request needs: a permission of the table; `act` (no permission, but a principal that may
 * work: REST's `authenticated`); `own-password` (setting one's own password, allowed while it must be
 * changed); `public` (public registers: only the interface rule).
 */
export type Need = PermissionName | 'act' | 'own-password' | 'public';

export type AccessRefusal = 'local-only' | 'password-change-required' | 'permission-denied';

export type AccessDecision =
  | { readonly allowed: true }
  | {
      readonly allowed: false;
      readonly code: AccessRefusal;
      readonly message: string;
      /** The missing permission, for `permission-denied` and `password-change-required`. */
      readonly permission?: PermissionName;
    };

const ALLOWED: AccessDecision = { allowed: true };

/** The decision. Never throws for a declared permission name. */
export function decide(actor: AccessActor, need: Need, via: InterfaceName): AccessDecision {
  if (actor.localOnly && via !== LOCAL_INTERFACE) {
    return {
      allowed: false,
      code: 'local-only',
      message: `this principal may act at the local display only, not through ${via}`,
    };
  }
  return decideRights(actor, need);
}

/** Rules 2 and 3: the password and the permission, wherever the actor is. */
function decideRights(actor: AccessActor, need: Need): AccessDecision {
  if (need === 'public' || need === 'own-password') return ALLOWED;
  const permission = need === 'act' ? undefined : need;
  if (actor.mustChangePassword) {
    return {
      allowed: false,
      code: 'password-change-required',
      message: 'set a new password first: the default password may do nothing else',
      ...(permission && { permission }),
    };
  }
  if (permission === undefined || hasPermission(actor.permissions, permissionBit(permission))) return ALLOWED;
  return {
    allowed: false,
    code: 'permission-denied',
    message: `permission '${permission}' is required`,
    permission,
  };
}

/** True when `decide` allows. */
export function allows(actor: AccessActor, need: Need, via: InterfaceName): boolean {
  return decide(actor, need, via).allowed;
}

/** The decision as the core's typed error: throws a CoreError with the refusal's code, else returns. */
export function authorize(actor: AccessActor, need: Need, via: InterfaceName): void {
  throwIfRefused(decide(actor, need, via));
}

/**
 * Rules 2 and 3 only, as a CoreError: for the pure user-table operations, which do not know the
 * interface. They are reached through the security service, which first decides the whole request
 * (`authorize` with the interface); the operations check the rights again for what they change.
 */
export function authorizeRights(actor: AccessActor, need: Need): void {
  throwIfRefused(decideRights(actor, need));
}

function throwIfRefused(decision: AccessDecision): void {
  if (decision.allowed) return;
  throw new CoreError(
    decision.code,
    decision.message,
    decision.permission ? { permission: decision.permission } : {},
  );
}
