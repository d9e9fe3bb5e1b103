/**
 * The security operations every interface shares: add/remove/update users and API keys, password
 * changes and security settings. Each one decides through the pure core, derives verifiers off the
 * event loop, commits one record to the secure store and writes a security event, including for the
 * attempts that were refused. REST, display and CLI call this; none of them touches the table itself.
 */

import { generateApiKey } from '../auth/api-key.ts';
import { createVerifier, type PasswordVerifier } from '../auth/password-verifier.ts';
import { CoreError, isCoreError } from '../core/core-error.ts';
import { checkPassword } from '../core/password-rules.ts';
import type { PermissionSet, PresetName } from '../core/permission-table.ts';
import type { SecuritySettings } from '../core/security-settings.ts';
import { validateSecuritySettings } from '../core/security-settings-rules.ts';
import {
  type Actor,
  actorFields,
  actorFor,
  addApiKey,
  addUser,
  authorize,
  type EntryActor,
  entryAt,
  removeEntry,
  renameEntry,
  setLocalOnly,
  setPassword,
  setPermissions,
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
}

export interface EntryPatch {
  readonly name?: string;
  readonly password?: string;
  readonly permissions?: PermissionSet;
  readonly localOnly?: boolean;
}

export interface SecurityServiceOptions {
  readonly kdfIterations?: number;
  readonly now: () => number;
  /**
   * Called after every committed change (listeners re-read the whitelist, Modbus its enables…). A
   * returned promise is awaited, so an operation resolves once its change has taken effect.
   */
  readonly onChange?: (state: SecurityState) => void | Promise<void>;
}

export class SecurityService {
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

  /** Logs an event that changes nothing (a login, a denied request). */
  record(event: Omit<SecurityEvent, 'time'>): void {
    this.store.record({ time: this.options.now(), ...event });
  }

  async addUser(actor: Actor, input: NewUserInput, ctx: RequestContext): Promise<number> {
    return this.perform('user.add', actor, ctx, `name=${input.name}`, async (state) => {
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
    return this.perform('apikey.add', actor, ctx, `name=${input.name}`, async (state) => {
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

  async removeEntry(actor: Actor, slot: number, ctx: RequestContext): Promise<void> {
    return this.perform('entry.remove', actor, ctx, `slot=${slot}`, async (state) => ({
      state: { ...state, table: removeEntry(state.table, actor, slot) },
      result: undefined,
    }));
  }

  /** Applies every field of the patch, or none of them: one record, one commit. */
  async updateEntry(actor: Actor, slot: number, patch: EntryPatch, ctx: RequestContext): Promise<void> {
    const fields = Object.keys(patch).filter((k) => patch[k as keyof EntryPatch] !== undefined);
    return this.perform(
      'entry.update',
      actor,
      ctx,
      `slot=${slot} fields=${fields.join(',')}`,
      async (state) => {
        authorize(actor, 'security.write');
        let table: UserTable = state.table;
        if (patch.name !== undefined) table = renameEntry(table, actor, slot, patch.name);
        if (patch.permissions !== undefined) table = setPermissions(table, actor, slot, patch.permissions);
        if (patch.localOnly !== undefined) table = setLocalOnly(table, actor, slot, patch.localOnly);
        if (patch.password !== undefined) {
          const entry = entryAt(table, slot);
          const verifier = await this.verifierFor(patch.password, entry.name, state.settings);
          table = setPassword(table, actor, slot, verifier, {
            currentPasswordVerified: false,
            mustChangePassword: false,
          });
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
    return this.perform('password.change', actor, ctx, `slot=${actor.slot}`, async (state) => {
      const entry = entryAt(state.table, actor.slot);
      if (!currentPasswordVerified) {
        throw new CoreError('wrong-password', 'the current password is wrong', { field: 'currentPassword' });
      }
      const verifier = await this.verifierFor(newPassword, entry.name, state.settings);
      const table = setPassword(state.table, actor, actor.slot, verifier, { currentPasswordVerified: true });
      return { state: { ...state, table }, result: undefined };
    });
  }

  /** Replaces the security settings (validated). Needs security.write. */
  async updateSettings(actor: Actor, next: SecuritySettings, ctx: RequestContext): Promise<void> {
    return this.perform('settings.change', actor, ctx, undefined, async (state) => {
      authorize(actor, 'security.write');
      return {
        state: { ...state, settings: validateSecuritySettings(next, state.table) },
        result: undefined,
      };
    });
  }

  /**
   * Communication settings (Modbus enables and principals, API keys over HTTP) as the `config` resource
   * changes them: config.write, and security.write as well for anything that changes whose rights
   * an unauthenticated interface acts with, or whether API keys may cross plain HTTP.
   */
  async updateCommunication(
    actor: Actor,
    patch: Partial<SecuritySettings['communication']>,
    ctx: RequestContext,
  ): Promise<void> {
    return this.perform('communication.change', actor, ctx, Object.keys(patch).join(','), async (state) => {
      authorize(actor, 'config.write');
      const current = state.settings.communication;
      const touchesSecurity =
        (patch.modbusSlot !== undefined && patch.modbusSlot !== current.modbusSlot) ||
        (patch.rtuSlot !== undefined && patch.rtuSlot !== current.rtuSlot) ||
        (patch.apiKeysOverHttp !== undefined && patch.apiKeysOverHttp !== current.apiKeysOverHttp);
      if (touchesSecurity) authorize(actor, 'security.write');
      const settings = { ...state.settings, communication: { ...current, ...patch } };
      return {
        state: { ...state, settings: validateSecuritySettings(settings, state.table) },
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
   * Runs one operation against the current state and commits its result. The store is read again
   * after the (async) KDF: two overlapping changes are serialised, never lost.
   */
  private async perform<T>(
    type: string,
    actor: Actor,
    ctx: RequestContext,
    detail: string | undefined,
    operation: (state: SecurityState) => Promise<{ state: SecurityState; result: T; detail?: string }>,
  ): Promise<T> {
    const run = async () => {
      const event = { type, interface: ctx.interface, source: ctx.source, ...actorFields(actor) };
      try {
        const outcome = await operation(this.store.state);
        this.store.commit(outcome.state, {
          ...event,
          time: this.options.now(),
          result: 'ok',
          detail: outcome.detail ?? detail,
        });
        // The change is stored whatever a listener does; its failure is the listener's to report.
        await Promise.resolve(this.options.onChange?.(outcome.state)).catch(() => {});
        return outcome.result;
      } catch (error) {
        if (isCoreError(error)) {
          const result =
            error.code === 'permission-denied' || error.code === 'password-change-required'
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
