/**
 * Backup and restore of the security settings (IEC 62443-4-2 CR 7.3, 7.4): the user table (names,
 * verifiers, API-key hashes, permissions, roles, flags), the security settings, and the files of the
 * TLS service (HTTPS certificate and key, Modbus client CA and CRL), sealed under a passphrase the
 * administrator chooses (store/backup-file.ts). A restore opens and checks everything before it
 * changes anything, then commits the state as a new record under this device's own anti-rollback
 * counter (a backup carries no sequence number: it cannot roll a device back), writes the TLS files,
 * logs `backup.restore` and ends every session. The device key, the root key, the counter, the
 * measurement configuration and the event log are the device's own and are not in a backup, so a
 * backup restores onto the same device or a replacement meter alike.
 */
import { authorize } from '../core/access.ts';
import { isCoreError } from '../core/core-error.ts';
import { type Actor, assertOutranksEveryEntry } from '../core/user-table.ts';
import { BackupError, checkBackupPassphrase, openBackup, sealBackup } from '../store/backup-file.ts';
import {
  decodeSecurityState,
  encodeSecurityState,
  RecordShapeError,
  type SecurityState,
} from '../store/security-record.ts';
import { CertificateError } from '../tls/certificate-policy.ts';
import type { TlsService, TlsSnapshot } from '../tls/tls-service.ts';
import type { RequestContext } from './request-context.ts';
import type { SecurityService } from './security-service.ts';

/** What the contents name themselves (inside the sealed part; the header names the file format). */
const CONTENTS_FORMAT = 'metergate-security-backup';
const CONTENTS_VERSION = 1;

export interface BackupDeps {
  readonly security: SecurityService;
  readonly tls: TlsService;
  /** Ends every session once a restore is committed. */
  readonly endSessions: () => void;
  readonly device: {
    readonly model: string;
    readonly serialNumber: string;
    readonly firmwareVersion: string;
  };
  readonly now: () => number;
}

/** A backup opened and checked, not yet applied. */
export interface OpenedBackup {
  readonly state: SecurityState;
  readonly tls: TlsSnapshot;
  /** The device it was made on and when (ms), as the backup says. */
  readonly from: { readonly serialNumber: string; readonly created: number };
}

export class BackupService {
  constructor(private readonly deps: BackupDeps) {}

  /** A sealed backup of the current state. Needs security.write; logs `backup.create`. */
  async create(actor: Actor, passphrase: string, ctx: RequestContext): Promise<Buffer> {
    const event = {
      type: 'backup.create',
      interface: ctx.interface,
      source: ctx.source,
      slot: actor.slot ?? undefined,
    };
    try {
      authorize(actor, 'security.write', ctx.interface);
      assertOutranksEveryEntry(this.deps.security.state.table, actor);
      checkBackupPassphrase(passphrase);
      const { model, serialNumber, firmwareVersion } = this.deps.device;
      const file = await sealBackup(
        {
          format: CONTENTS_FORMAT,
          v: CONTENTS_VERSION,
          created: this.deps.now(),
          device: { model, serialNumber, firmwareVersion },
          security: encodeSecurityState(this.deps.security.state),
          tls: this.deps.tls.snapshot(),
        },
        passphrase,
      );
      this.deps.security.record({ ...event, result: 'ok', detail: `bytes=${file.length}` });
      return file;
    } catch (error) {
      this.recordRefusal(event, error);
      throw error;
    }
  }

  /**
   * Opens a backup and checks all of it (the actor's rights: security.write and every permission of
   * every entry, here and in the backup; passphrase, integrity, format, the certificates): throws BackupError (or the CoreError/CertificateError of what is wrong inside),
   * changing nothing.
   */
  async open(actor: Actor, file: Uint8Array, passphrase: string, ctx: RequestContext): Promise<OpenedBackup> {
    // The rights before the KDF: a caller who may not restore costs the device nothing.
    authorize(actor, 'security.write', ctx.interface);
    assertOutranksEveryEntry(this.deps.security.state.table, actor);
    const contents = await openBackup(file, passphrase);
    if (typeof contents !== 'object' || contents === null) throw invalid('contents', 'not a map');
    const c = contents as Record<string, unknown>;
    if (c.format !== CONTENTS_FORMAT)
      throw invalid('format', `'${String(c.format)}' is not ${CONTENTS_FORMAT}`);
    if (c.v !== CONTENTS_VERSION) {
      throw new BackupError(
        'backup-format',
        `the backup's contents are version ${String(c.v)}; this firmware reads version ${CONTENTS_VERSION}`,
      );
    }
    let state: SecurityState;
    try {
      state = decodeSecurityState(c.security);
    } catch (error) {
      if (error instanceof RecordShapeError) throw invalid('security', error.message);
      throw error;
    }
    try {
      assertOutranksEveryEntry(state.table, actor);
    } catch (error) {
      if (isCoreError(error)) throw invalid('security', `${error.code}: ${error.message}`);
      throw error;
    }
    const tls = tlsSnapshot(c.tls);
    try {
      this.deps.tls.checkSnapshot(tls);
    } catch (error) {
      if (error instanceof CertificateError)
        throw invalid(`tls.${error.field}`, `${error.code}: ${error.message}`);
      throw error;
    }
    const device = (c.device ?? {}) as Record<string, unknown>;
    return {
      state,
      tls,
      from: {
        serialNumber: typeof device.serialNumber === 'string' ? device.serialNumber : 'unknown',
        created: typeof c.created === 'number' ? c.created : 0,
      },
    };
  }

  /**
   * Applies an opened backup: the security record first (a new commit under this device's counter,
   * logged as `backup.restore`; refused, like any change, if the table or settings break a rule),
   * then the TLS files (one more commit, anchoring them), then every session ends.
   */
  async apply(actor: Actor, opened: OpenedBackup, ctx: RequestContext): Promise<void> {
    const when = new Date(opened.from.created).toISOString();
    await this.deps.security.restoreState(
      actor,
      { ...opened.state, settings: { ...opened.state.settings, tls: opened.tls.source } },
      ctx,
      `from=${opened.from.serialNumber} created=${when}`,
    );
    this.deps.tls.restore(opened.tls);
    this.deps.endSessions();
  }

  /** A refused restore before anything changed (bad file, wrong passphrase), for the event log. */
  recordRefusedRestore(actor: Actor, ctx: RequestContext, error: unknown): void {
    this.recordRefusal(
      { type: 'backup.restore', interface: ctx.interface, source: ctx.source, slot: actor.slot ?? undefined },
      error,
    );
  }

  private recordRefusal(
    event: { type: string; interface: RequestContext['interface']; source?: string; slot?: number },
    error: unknown,
  ): void {
    const code =
      error instanceof BackupError || isCoreError(error) ? error.code : (error as { code?: string }).code;
    const denied =
      isCoreError(error) && (error.code === 'permission-denied' || error.code === 'entry-more-privileged');
    this.deps.security.record({ ...event, result: denied ? 'denied' : 'failed', detail: code ?? 'error' });
  }
}

function invalid(field: string, message: string): BackupError {
  return new BackupError('backup-invalid', `the backup's ${field} is not valid: ${message}`);
}

function tlsSnapshot(value: unknown): TlsSnapshot {
  if (typeof value !== 'object' || value === null) throw invalid('tls', 'not a map');
  const t = value as Record<string, unknown>;
  const text = (field: string, nullable: boolean): string | null => {
    const v = t[field];
    if (typeof v === 'string') return v;
    if (nullable && (v === null || v === undefined)) return null;
    throw invalid(`tls.${field}`, 'expected PEM text');
  };
  if (t.source !== 'self-signed' && t.source !== 'uploaded')
    throw invalid('tls.source', `'${String(t.source)}'`);
  return {
    cert: text('cert', false) as string,
    key: text('key', false) as string,
    source: t.source,
    modbusCa: text('modbusCa', true),
    modbusCrl: text('modbusCrl', true),
  };
}
