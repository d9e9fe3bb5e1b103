/**
 * The security operations every interface shares: add/remove/update users and API keys, password
 * changes and security settings. Each one is decided by access.ts for the actor and the interface it
 * came through, then checked by the pure core (table invariants, climbing rules), derives verifiers
 * off the event loop, commits one record to the secure store and writes a security event, including
 * for the attempts that were refused. REST, display and CLI call this; none of them touches the table
 * itself.
 */

import { generateApiKey } from '../auth/api-key.ts';
import { createVerifier } from '../auth/password-verifier.ts';
import { authorize, type Need } from '../core/access.ts';
import { ChangeSignal } from '../core/change-signal.ts';
import { CoreError, isCoreError } from '../core/core-error.ts';
import { checkPassword } from '../core/password-rules.ts';
import type { PasswordVerifier } from '../core/password-verifier-record.ts';
import type { PermissionSet, PresetName, RoleName } from '../core/permission-table.ts';
import type { CommunicationSettings, SecuritySettings } from '../core/security-settings.ts';
import { PRINCIPAL_FIELDS, principalAt, validateSecuritySettings } from '../core/security-settings-rules.ts';
import { ANONYMOUS_SLOT } from '../core/slots.ts';
import {
  type Actor,
  actorFields,
  actorFor,
  addApiKey,
  addUser,
  assertSecurityAdminRemains,
  type EntryActor,
  entryAt,
  entryIdAt,
  isDisabled,
  removeEntry,
  renameEntry,
  setDisabled,
  setLocalOnly,
  setPassword,
  setPermissions,
  slotOfEntry,
  type UserTable,
} from '../core/user-table.ts';
import type { SecurityEvent } from '../store/event-log.ts';
import type { SecureStore } from '../store/secure-store.ts';
import type { SecurityState } from '../store/security-record.ts';
import type { RequestContext } from './request-context.ts';

/** Stands in for a verifier while the cheap checks of an operation run before the KDF. */
const PLACEHOLDER_VERIFIER: PasswordVerifier = {
  kdf: 'pbkdf2-sha256',
  iterations: 0,
  salt: new Uint8Array(16),
  publicKey: new Uint8Array(32),
};

export interface NewUserInput {
  readonly name: string;
  readonly password: string;
  readonly permissions: PermissionSet;
  readonly localOnly?: boolean;
  readonly mustChangePassword?: boolean;
  /** The IEC 62351-8 role template `permissions` came from (kept and shown as the user's origin). */
  readonly role?: RoleName;
}

export interface EntryPatch {
  readonly name?: string;
  readonly password?: string;
  readonly permissions?: PermissionSet;
  readonly localOnly?: boolean;
  /** Disable (true) or enable (false) the entry's logins. */
  readonly disabled?: boolean;
}

/**
 * A change of the communication settings as interfaces make it: the Modbus principals named by slot
 * (`modbusSlot`, `rtuSlot`), stored as the identity of the entry in that slot at that moment.
 */
export type CommunicationPatch = Partial<
  Omit<CommunicationSettings, 'modbusPrincipal' | 'rtuPrincipal'> & {
    readonly modbusSlot: number;
    readonly rtuSlot: number;
  }
>;

export interface SecurityServiceOptions {
  readonly kdfIterations?: number;
  readonly now: () => number;
}

export class SecurityService {
  /**
   * Emitted after every committed change (listeners re-read the whitelist, Modbus its enables…); awaited,
   * so an operation resolves once its change has taken effect.
   */
  readonly changed = new ChangeSignal<SecurityState>();

  constructor(
    private readonly store: SecureStore,
    private readonly options: SecurityServiceOptions,
  ) {}

  get state(): SecurityState {
    return this.store.state;
  }

  actorFor(slot: number): EntryActor {
    return actorFor(this.store.state.table, slot);
  }

  /**
   * The actor a Modbus principal setting names right now, found by the entry's identity; null when
   * that entry is gone or disabled (then Modbus acts as nobody, never as whatever holds its slot now).
   */
  principalActor(which: 'modbusPrincipal' | 'rtuPrincipal'): Actor | null {
    const { table, settings } = this.store.state;
    const slot = slotOfEntry(table, settings.communication[which]);
    // A disabled entry acts for nobody, Modbus included.
    return slot === null || isDisabled(table, slot) ? null : actorFor(table, slot);
  }

  /** Logs an event that changes nothing (a login, a denied request). */
  record(event: Omit<SecurityEvent, 'time'>): void {
    this.store.record({ time: this.options.now(), ...event });
  }

  async addUser(actor: Actor, input: NewUserInput, ctx: RequestContext): Promise<number> {
    return this.perform('user.add', 'security.write', actor, ctx, `name=${input.name}`, async (state) => {
      // Name, uniqueness and a free slot first: they are cheap, the KDF is not.
      addUser(state.table, actor, { ...input, verifier: PLACEHOLDER_VERIFIER });
      const verifier = await this.verifierFor(input.password, input.name, state.settings);
      const { table, slot } = addUser(state.table, actor, { ...input, verifier });
      return { state: { ...state, table }, result: slot, detail: `slot=${slot}` };
    });
  }

  /** Creates an API key; the key is returned here once and never stored. */
  async addApiKey(
    actor: Actor,
    input: { readonly name: string; readonly preset: PresetName },
    ctx: RequestContext,
  ): Promise<{ slot: number; key: string }> {
    return this.perform('apikey.add', 'security.write', actor, ctx, `name=${input.name}`, async (state) => {
      const { key, hash } = generateApiKey();
      const { table, slot } = addApiKey(state.table, actor, {
        ...input,
        keyHash: hash,
        createdAt: this.options.now(),
      });
      return {
        state: { ...state, table },
        result: { slot, key },
        detail: `slot=${slot} preset=${input.preset}`,
      };
    });
  }

  /**
   * Deletes an entry. A Modbus principal naming it falls back to `anonymous` in the same commit (and
   * a `modbus.principal.reset` event says so): deleting, above all revoking a key, is never refused
   * for being the principal, and no later entry in that slot inherits the role.
   */
  async removeEntry(actor: Actor, slot: number, ctx: RequestContext): Promise<void> {
    return this.perform('entry.remove', 'security.write', actor, ctx, `slot=${slot}`, async (state) => {
      const table = removeEntry(state.table, actor, slot);
      const removedId = entryIdAt(state.table, slot);
      const name = entryAt(state.table, slot).name;
      const communication = { ...state.settings.communication };
      const reset: string[] = [];
      for (const { stored, field } of PRINCIPAL_FIELDS) {
        if (communication[stored] !== removedId) continue;
        communication[stored] = entryIdAt(table, ANONYMOUS_SLOT);
        reset.push(
          `${field.replace('communication.', '')}: slot ${slot} (${name}) -> ${ANONYMOUS_SLOT} (anonymous)`,
        );
      }
      return {
        state: { table, settings: { ...state.settings, communication } },
        result: undefined,
        detail: reset.length ? `slot=${slot} modbus principal reset to anonymous` : `slot=${slot}`,
        events: reset.map((detail) => ({ type: 'modbus.principal.reset', detail })),
      };
    });
  }

  /** Applies every field of the patch, or none of them: one record, one commit. */
  async updateEntry(actor: Actor, slot: number, patch: EntryPatch, ctx: RequestContext): Promise<void> {
    const fields = Object.keys(patch).filter((k) => patch[k as keyof EntryPatch] !== undefined);
    return this.perform(
      'entry.update',
      'security.write',
      actor,
      ctx,
      `slot=${slot} fields=${fields.join(',')}`,
      async (state) => {
        let table: UserTable = state.table;
        if (patch.name !== undefined) table = renameEntry(table, actor, slot, patch.name);
        if (patch.permissions !== undefined) table = setPermissions(table, actor, slot, patch.permissions);
        if (patch.localOnly !== undefined) table = setLocalOnly(table, actor, slot, patch.localOnly);
        if (patch.disabled !== undefined) table = setDisabled(table, actor, slot, patch.disabled);
        if (patch.password !== undefined) {
          const entry = entryAt(table, slot);
          const verifier = await this.verifierFor(patch.password, entry.name, state.settings);
          // Set for someone else, it is must-change at that user's next login (setPassword).
          table = setPassword(table, actor, slot, verifier, { currentPasswordVerified: false });
        }
        return { state: { ...state, table }, result: undefined };
      },
    );
  }

  /**
   * The actor's own password. `currentPasswordVerified` is the caller's word that the current password
   * was proven (a signature over a fresh nonce, or the display's own check).
   */
  async changeOwnPassword(
    actor: EntryActor,
    currentPasswordVerified: boolean,
    newPassword: string,
    ctx: RequestContext,
  ): Promise<void> {
    return this.perform(
      'password.change',
      'own-password',
      actor,
      ctx,
      `slot=${actor.slot}`,
      async (state) => {
        const entry = entryAt(state.table, actor.slot);
        if (!currentPasswordVerified) {
          throw new CoreError('wrong-password', 'the current password is wrong', {
            field: 'currentPassword',
          });
        }
        const verifier = await this.verifierFor(newPassword, entry.name, state.settings);
        const table = setPassword(state.table, actor, actor.slot, verifier, {
          currentPasswordVerified: true,
        });
        return { state: { ...state, table }, result: undefined };
      },
    );
  }

  /**
   * Replaces the whole security state with one from a backup (backup-service.ts has opened and
   * decoded it): one new commit under this device's own counter, never the backup's. Every slot's
   * epoch moves past both tables' (no session of either survives it) and identities keep counting
   * from the greater `nextId`. Needs security.write; the settings are validated against the restored
   * table like any change.
   */
  async restoreState(
    actor: Actor,
    restored: SecurityState,
    ctx: RequestContext,
    detail: string,
  ): Promise<void> {
    return this.perform('backup.restore', 'security.write', actor, ctx, detail, async (state) => {
      assertSecurityAdminRemains(restored.table);
      const epochs = restored.table.epochs.map(
        (epoch, slot) => Math.max(epoch, state.table.epochs[slot] ?? 0) + 1,
      );
      const table: UserTable = {
        ...restored.table,
        epochs,
        nextId: Math.max(restored.table.nextId, state.table.nextId),
      };
      const settings = validateSecuritySettings(restored.settings, table);
      return { state: { table, settings }, result: undefined };
    });
  }

  /** Replaces the security settings (validated). Needs security.write. */
  async updateSettings(actor: Actor, next: SecuritySettings, ctx: RequestContext): Promise<void> {
    return this.perform('settings.change', 'security.write', actor, ctx, undefined, async (state) => {
      return {
        state: { ...state, settings: validateSecuritySettings(next, state.table, state.settings) },
        result: undefined,
      };
    });
  }

  /**
   * Communication settings (Modbus enables and principals, API keys over HTTP) as the `config` resource
   * changes them: config.write, and security.write as well for anything that changes whose rights
   * an unauthenticated interface acts with, or whether API keys may cross plain HTTP.
   */
  async updateCommunication(actor: Actor, patch: CommunicationPatch, ctx: RequestContext): Promise<void> {
    const detail = Object.keys(patch).join(',');
    return this.perform('communication.change', 'config.write', actor, ctx, detail, async (state) => {
      const current = state.settings.communication;
      const { modbusSlot, rtuSlot, ...rest } = patch;
      // A slot that still holds the current principal changes nothing (a form sending every field).
      const principal = (slot: number | undefined, was: number, field: string) =>
        slot === undefined || state.table.ids[slot] === was ? was : principalAt(state.table, slot, field);
      const touchesSecurity =
        (modbusSlot !== undefined && state.table.ids[modbusSlot] !== current.modbusPrincipal) ||
        (rtuSlot !== undefined && state.table.ids[rtuSlot] !== current.rtuPrincipal) ||
        (patch.apiKeysOverHttp !== undefined && patch.apiKeysOverHttp !== current.apiKeysOverHttp);
      if (touchesSecurity) authorize(actor, 'security.write', ctx.interface);
      const communication: CommunicationSettings = {
        ...current,
        ...rest,
        modbusPrincipal: principal(modbusSlot, current.modbusPrincipal, 'communication.modbusSlot'),
        rtuPrincipal: principal(rtuSlot, current.rtuPrincipal, 'communication.rtuSlot'),
      };
      const settings = { ...state.settings, communication };
      return {
        state: { ...state, settings: validateSecuritySettings(settings, state.table, state.settings) },
        result: undefined,
      };
    });
  }

  private async verifierFor(
    password: string,
    username: string,
    settings: SecuritySettings,
  ): Promise<PasswordVerifier> {
    const checked = checkPassword(password, { username, minLength: settings.passwordMinLength });
    return createVerifier(
      checked,
      this.options.kdfIterations ? { iterations: this.options.kdfIterations } : {},
    );
  }

  /**
   * Decides `need` for the actor through its interface (access.ts), runs one operation against the
   * current state and commits its result. The store is read again after the (async) KDF: two
   * overlapping changes are serialised, never lost.
   */
  private async perform<T>(
    type: string,
    need: Need,
    actor: Actor,
    ctx: RequestContext,
    detail: string | undefined,
    operation: (state: SecurityState) => Promise<{
      state: SecurityState;
      result: T;
      detail?: string;
      /** Events that follow from the change (logged after its own event). */
      events?: readonly { readonly type: string; readonly detail: string }[];
    }>,
  ): Promise<T> {
    const run = async () => {
      const event = { type, interface: ctx.interface, source: ctx.source, ...actorFields(actor) };
      try {
        authorize(actor, need, ctx.interface);
        const outcome = await operation(this.store.state);
        this.store.commit(outcome.state, {
          ...event,
          time: this.options.now(),
          result: 'ok',
          detail: outcome.detail ?? detail,
        });
        for (const extra of outcome.events ?? []) this.record({ ...event, ...extra, result: 'ok' });
        // The change is stored whatever a listener does; its failure is the listener's to report.
        await this.changed.emit(outcome.state);
        return outcome.result;
      } catch (error) {
        if (isCoreError(error)) {
          const result =
            error.code === 'permission-denied' ||
            error.code === 'password-change-required' ||
            error.code === 'local-only' ||
            error.code === 'permission-not-held' ||
            error.code === 'entry-more-privileged'
              ? 'denied'
              : 'failed';
          this.record({ ...event, result, detail: [detail, error.code].filter(Boolean).join(' ') });
        }
        throw error;
      }
    };
    const queued = this.queue.then(run, run);
    this.queue = queued.then(
      () => undefined,
      () => undefined,
    );
    return queued;
  }

  private queue: Promise<unknown> = Promise.resolve();
}
