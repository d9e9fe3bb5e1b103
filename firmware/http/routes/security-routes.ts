/**
 * Users and API keys, security settings, the audit log and the TLS certificate: everything that needs
 * security.* or audit.read. Passwords arrive sealed to the device key, for the user they will belong to.
 */
import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { openSealedPassword } from '../../auth/sealed-secret.ts';
import {
  type PresetName,
  permissionsFromNames,
  type RoleName,
  rolePermissions,
} from '../../core/permission-table.ts';
import type { HttpMode } from '../../core/security-settings.ts';
import { displayFingerprint, parseWhitelistEntry } from '../../core/security-settings-rules.ts';
import { SLOT_COUNT } from '../../core/slots.ts';
import { describeEntry, entryAt } from '../../core/user-table.ts';
import { createAddressFilter } from '../../net/client-whitelist.ts';
import type { TlsInfo } from '../../tls/tls-service.ts';
import type { ApiBuilder } from '../api-builder.ts';
import type { ApiDeps } from '../api-deps.ts';
import { ApiError } from '../api-error.ts';
import type { AppEnv } from '../app-env.ts';
import { csvText } from '../csv-text.ts';
import {
  csvHeaders,
  csvResponse,
  jsonBody,
  jsonResponse,
  OkSchema,
  PermissionListSchema,
  PresetSchema,
  RoleSchema,
  SealedSecretSchema,
  SlotParamSchema,
  UsernameFieldSchema,
} from '../schemas.ts';
import { setSessionCookie } from './auth-routes.ts';

const SlotSchema = z
  .object({
    slot: z.number(),
    type: z.enum(['user', 'api-key', 'standard', 'empty']),
    name: z.string().nullable(),
    permissions: z.array(z.string()),
    flags: z.array(z.string()),
    epoch: z.number(),
  })
  .openapi('Slot');

const NewUserSchema = z
  .object({
    type: z.literal('user'),
    name: UsernameFieldSchema,
    password: SealedSecretSchema,
    permissions: PermissionListSchema.optional(),
    role: RoleSchema.optional(),
    localOnly: z.boolean().optional(),
  })
  .strict();
const NewApiKeySchema = z
  .object({ type: z.literal('api-key'), name: UsernameFieldSchema, preset: PresetSchema })
  .strict();
const NewEntrySchema = z.discriminatedUnion('type', [NewUserSchema, NewApiKeySchema]).openapi('NewEntry');
const CreatedSchema = z
  .object({
    slot: z.number(),
    key: z.string().optional().openapi({ description: 'the API key: shown this once, never again' }),
  })
  .openapi('Created');

const EntryPatchSchema = z
  .object({
    name: UsernameFieldSchema.optional(),
    password: SealedSecretSchema.optional(),
    permissions: PermissionListSchema.optional(),
    localOnly: z.boolean().optional(),
    disabled: z.boolean().optional().openapi({
      description:
        'true: the entry keeps its slot but every login with it is refused like a wrong password (an API key like a revoked one) and its sessions end; false: enabled again. Not the admin, not yourself',
    }),
  })
  .strict()
  .openapi('EntryPatch');

const PatchedSlotSchema = SlotSchema.extend({
  csrfToken: z.string().optional().openapi({
    description:
      'your own entry renamed: your session goes on as a new one (new cookie); send this CSRF token from now on',
  }),
  sessionEnded: z.boolean().optional().openapi({
    description:
      'true: this changed your own password or permissions, which ends your sessions (this one too): log in again',
  }),
}).openapi('PatchedSlot');

const LockoutSchema = z.object({
  delayAfterFailures: z.number().int(),
  baseDelayMs: z.number().int(),
  lockAfterFailures: z.number().int(),
  lockSeconds: z.number().int(),
  accountLockAfterFailures: z.number().int(),
});
const SyslogSchema = z
  .object({
    transport: z.enum(['off', 'udp', 'tls']),
    host: z.string().max(253),
    port: z.number().int(),
    fingerprint: z.string().max(95).nullable(),
  })
  .openapi('SyslogSettings', {
    description:
      'security events to a syslog collector (RFC 5424 over UDP, or TLS trusting the collector certificate by its SHA-256 fingerprint); off by default',
  });
const HttpModeSchema = z.enum(['on', 'redirect', 'off']).openapi('HttpMode', {
  description:
    "plain HTTP: 'on' (factory), 'redirect' (pages 308 to HTTPS, the API answers https-required), 'off' (listener closed); changed over HTTPS only",
});
const HostnamesSchema = z.array(z.string().max(100)).max(8).openapi({
  description:
    'names the device answers to besides its IP addresses, localhost and its own host name; any other Host is refused with 421 unknown-host (DNS rebinding)',
});
const DeniedCertificatesSchema = z.array(z.string().max(100)).max(32).openapi({
  description:
    'Modbus/TCP Security client certificates refused at every handshake: SHA-256 fingerprints of the DER certificate (hex, colons optional; shown with colons), at most 8',
});
const SecuritySchema = z
  .object({
    passwordMinLength: z.number().int(),
    lockout: LockoutSchema,
    whitelist: z.array(z.string()),
    apiKeysOverHttp: z.boolean(),
    syslog: SyslogSchema,
    http: HttpModeSchema,
    hostnames: HostnamesSchema,
    deniedCertificates: DeniedCertificatesSchema,
  })
  .openapi('SecuritySettings');
const SecurityPatchSchema = z
  .object({
    passwordMinLength: z.number().int().min(8).max(64).optional(),
    lockout: LockoutSchema.partial().strict().optional(),
    whitelist: z.array(z.string().max(64)).max(16).optional(),
    apiKeysOverHttp: z.boolean().optional(),
    syslog: SyslogSchema.partial().strict().optional(),
    http: HttpModeSchema.optional(),
    hostnames: HostnamesSchema.optional(),
    deniedCertificates: DeniedCertificatesSchema.optional(),
  })
  .strict()
  .openapi('SecurityPatch');

const AuditQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  before: z.coerce.number().int().min(0).optional().openapi({ description: 'only events with a smaller id' }),
  type: z
    .string()
    .max(40)
    .optional()
    .openapi({ description: 'only events of this type (prefix match: "login")' }),
  format: z.enum(['json', 'csv']).default('json').openapi({
    description:
      'csv: every event that matches `before` and `type` (no paging, `limit` does not apply), newest first, as text/csv; it does not count as reading the log (`lost` is JSON only)',
  }),
});

const AUDIT_CSV_HEADER = ['id', 'time', 'type', 'interface', 'result', 'slot', 'role', 'source', 'detail'];
const AuditSchema = z
  .object({
    events: z.array(
      z.object({
        id: z.number(),
        time: z.string(),
        type: z.string(),
        interface: z.string(),
        result: z.string(),
        slot: z.number().optional(),
        role: z.string().optional().openapi({
          description: 'the IEC 62351-8 role of a Modbus/TCP Security certificate (no slot then)',
        }),
        source: z.string().optional(),
        detail: z.string().optional(),
      }),
    ),
    next: z.number().nullable().openapi({ description: 'pass as `before` for the next (older) page' }),
    lost: z
      .object({
        since: z.string().openapi({ description: 'when the first of them was lost' }),
        count: z.number().int().openapi({ description: 'overwritten + summarized' }),
        overwritten: z
          .number()
          .int()
          .openapi({ description: 'erased (the ring went round) before an audit reader saw them' }),
        summarized: z
          .number()
          .int()
          .openapi({ description: 'refusals only counted in an `audit.summary` event' }),
      })
      .nullable()
      .openapi({
        description:
          'events lost since the log was last read (IEC 62443-4-2 CR 2.9), or null. Reading the newest page (no `before`) counts as reading the log: the next answer is null until more are lost',
      }),
    integrity: z
      .object({
        state: z.enum(['ok', 'unanchored', 'broken']),
        since: z.string().nullable().openapi({ description: 'when a boot found the log broken' }),
        detail: z.string().nullable().openapi({ description: 'what was found: which ring, which ids' }),
      })
      .openapi({
        description:
          'the log against the committed state: `broken` when a boot found it truncated, replayed or with missing blocks (also an `audit.truncated` event), until a reader has read the newest page; `unanchored` while the security record predates log anchors',
      }),
  })
  .openapi('AuditPage');

const TlsInfoSchema = z
  .object({
    source: z.enum(['self-signed', 'uploaded']),
    subject: z.string(),
    issuer: z.string(),
    subjectAltName: z.string().nullable(),
    fingerprint256: z.string(),
    validFrom: z.string(),
    validTo: z.string(),
  })
  .openapi('TlsInfo');
const TlsUploadSchema = z
  .object({ certificate: z.string().max(32_768), privateKey: z.string().max(16_384) })
  .strict()
  .openapi('TlsUpload');

const CaInfoSchema = z
  .object({ subject: z.string(), fingerprint256: z.string(), validFrom: z.string(), validTo: z.string() })
  .openapi('CaInfo');
const CaUploadSchema = z
  .object({ ca: z.string().max(32_768) })
  .strict()
  .openapi('CaUpload');

const CrlInfoSchema = z
  .object({
    issuer: z.string(),
    thisUpdate: z.string(),
    nextUpdate: z.string().openapi({
      description: 'after this instant every Modbus/TLS handshake is refused until a fresh CRL is uploaded',
    }),
    revoked: z.number().int().openapi({ description: 'how many certificates it revokes' }),
    crlNumber: z.string().nullable(),
  })
  .openapi('CrlInfo');
const CrlUploadSchema = z
  .object({ crl: z.string().max(60_000) })
  .strict()
  .openapi('CrlUpload');

export function registerSecurityRoutes(api: ApiBuilder, deps: ApiDeps): void {
  const { security } = deps;
  const listSlots = () => {
    const { table } = security.state;
    return Array.from({ length: SLOT_COUNT }, (_, slot) => ({
      ...describeEntry(table, slot),
      epoch: table.epochs[slot] ?? 0,
    }));
  };
  /**
   * Runs a certificate installation and logs it: ok with the fingerprint (or what `describe` says),
   * or failed with the error code.
   */
  const recorded = async <T>(
    c: Context<AppEnv>,
    type: string,
    install: () => T | Promise<T>,
    describe: (installed: T) => string = (installed) =>
      (installed as { fingerprint256: string }).fingerprint256,
  ): Promise<T> => {
    const ctx = c.get('context');
    const event = { type, interface: ctx.interface, source: ctx.source, slot: c.get('principal').actor.slot };
    try {
      const installed = await install();
      security.record({ ...event, result: 'ok', detail: describe(installed) });
      return installed;
    } catch (error) {
      security.record({ ...event, result: 'failed', detail: (error as { code?: string }).code });
      throw error;
    }
  };
  /** Installs a new HTTPS certificate (logged as tls.upload / tls.reset) and records its source in the settings. */
  const replaceCertificate = async (
    c: Context<AppEnv>,
    source: 'uploaded' | 'self-signed',
    install: () => TlsInfo | Promise<TlsInfo>,
  ): Promise<TlsInfo> => {
    const info = await recorded(c, source === 'uploaded' ? 'tls.upload' : 'tls.reset', install);
    if (security.state.settings.tls !== source) {
      await security.updateSettings(
        c.get('principal').actor,
        { ...security.state.settings, tls: source },
        c.get('context'),
      );
    }
    return info;
  };
  const requireHttps = (c: Context<AppEnv>, what: string) => {
    if (c.get('context').interface !== 'https')
      throw new ApiError(403, 'https-required', `upload ${what} over HTTPS`);
  };
  const sealed = (value: z.infer<typeof SealedSecretSchema>, username: string, field: string) =>
    openSealedPassword(deps.login.deviceSecretKey, value, { purpose: 'set-password', username }, field);

  api.route(
    'security.read',
    {
      method: 'get',
      path: '/api/v1/users',
      summary: 'The 8 slots: names, types, permissions, flags (never a secret)',
      responses: { 200: jsonResponse(z.object({ slots: z.array(SlotSchema) }), 'The user table') },
    },
    (c) => c.json({ slots: listSlots() }, 200),
  );

  api.route(
    'security.write',
    {
      method: 'post',
      path: '/api/v1/users',
      summary: 'Adds a user (password sealed) or an API key (returned once) in a free slot 3–7',
      request: jsonBody(NewEntrySchema),
      responses: { 201: jsonResponse(CreatedSchema, 'Created') },
    },
    async (c) => {
      const body = c.req.valid('json');
      const actor = c.get('principal').actor;
      const ctx = c.get('context');
      if (body.type === 'api-key') {
        const { slot, key } = await security.addApiKey(
          actor,
          { name: body.name, preset: body.preset as PresetName },
          ctx,
        );
        return c.json({ slot, key }, 201);
      }
      if (body.permissions !== undefined && body.role !== undefined) {
        throw new ApiError(400, 'invalid-field', 'give either permissions or role, not both', {
          field: 'role',
        });
      }
      const permissions =
        body.role !== undefined ? rolePermissions(body.role) : permissionsFromNames(body.permissions ?? []);
      const slot = await security.addUser(
        actor,
        {
          name: body.name,
          password: sealed(body.password, body.name, 'password'),
          permissions,
          localOnly: body.localOnly,
          ...(body.role !== undefined && { role: body.role as RoleName }),
        },
        ctx,
      );
      return c.json({ slot }, 201);
    },
  );

  api.route(
    'security.write',
    {
      method: 'patch',
      path: '/api/v1/users/{slot}',
      summary:
        'Changes name, password (sealed for the name after the change), permissions, local-only or disabled; renaming yourself keeps your session (renewed)',
      request: { params: SlotParamSchema, ...jsonBody(EntryPatchSchema) },
      responses: { 200: jsonResponse(PatchedSlotSchema, 'The changed slot') },
    },
    async (c) => {
      const { slot } = c.req.valid('param');
      const body = c.req.valid('json');
      const actor = c.get('principal').actor;
      const current = entryAt(security.state.table, slot);
      await security.updateEntry(
        actor,
        slot,
        {
          name: body.name,
          permissions: body.permissions === undefined ? undefined : permissionsFromNames(body.permissions),
          localOnly: body.localOnly,
          disabled: body.disabled,
          password:
            body.password === undefined
              ? undefined
              : sealed(body.password, body.name ?? current.name, 'password'),
        },
        c.get('context'),
      );
      // Its epoch moved, so its sessions are dead already; dropped now rather than at their next use.
      if (body.disabled === true) deps.sessions.endSlot(slot);
      const changed = listSlots()[slot] as z.infer<typeof SlotSchema>;
      const principal = c.get('principal');
      const own = principal.kind === 'session' && principal.actor.slot === slot;
      if (!own || changed.epoch === principal.session?.epoch) return c.json(changed, 200);
      // A change of one's own credentials or rights ends one's sessions (their epoch); a rename
      // alone is neither, so the renamer's session goes on as a new one rather than ending unsaid.
      if (body.password !== undefined || body.permissions !== undefined || body.localOnly === true)
        return c.json({ ...changed, sessionEnded: true }, 200);
      const ctx = c.get('context');
      const renewed = deps.sessions.create(
        slot,
        changed.epoch,
        ctx.source ?? '',
        deps.now(),
        ctx.interface === 'https' ? 'https' : 'http',
      );
      deps.sessions.end(principal.token ?? '');
      setSessionCookie(c, renewed.token);
      return c.json({ ...changed, csrfToken: renewed.session.csrfToken }, 200);
    },
  );

  api.route(
    'security.write',
    {
      method: 'delete',
      path: '/api/v1/users/{slot}',
      summary: 'Deletes a user or revokes an API key (slots 3–7), at once',
      request: { params: SlotParamSchema },
      responses: { 200: jsonResponse(OkSchema, 'Deleted') },
    },
    async (c) => {
      const { slot } = c.req.valid('param');
      await security.removeEntry(c.get('principal').actor, slot, c.get('context'));
      deps.sessions.endSlot(slot);
      return c.json({ ok: true as const }, 200);
    },
  );

  const currentSecurity = () => {
    const s = security.state.settings;
    return {
      passwordMinLength: s.passwordMinLength,
      lockout: s.lockout,
      whitelist: [...s.whitelist],
      apiKeysOverHttp: s.communication.apiKeysOverHttp,
      syslog: s.syslog,
      http: s.http,
      hostnames: [...s.hostnames],
      deniedCertificates: s.deniedCertificates.map(displayFingerprint),
    };
  };

  api.route(
    'security.read',
    {
      method: 'get',
      path: '/api/v1/security',
      summary:
        'Security settings: client whitelist, lockout policy, password length, API keys over HTTP, plain HTTP, host names',
      responses: { 200: jsonResponse(SecuritySchema, 'Security settings') },
    },
    (c) => c.json(currentSecurity(), 200),
  );

  api.route(
    'security.write',
    {
      method: 'patch',
      path: '/api/v1/security',
      summary: 'Changes security settings',
      request: jsonBody(SecurityPatchSchema),
      responses: { 200: jsonResponse(SecuritySchema, 'The new settings') },
    },
    async (c) => {
      const patch = c.req.valid('json');
      const current = security.state.settings;
      refuseSelfLockout(c, patch, deps);
      await security.updateSettings(
        c.get('principal').actor,
        {
          ...current,
          passwordMinLength: patch.passwordMinLength ?? current.passwordMinLength,
          lockout: { ...current.lockout, ...patch.lockout },
          whitelist: patch.whitelist ?? current.whitelist,
          communication: {
            ...current.communication,
            apiKeysOverHttp: patch.apiKeysOverHttp ?? current.communication.apiKeysOverHttp,
          },
          syslog: { ...current.syslog, ...patch.syslog },
          http: patch.http ?? current.http,
          hostnames: patch.hostnames ?? current.hostnames,
          deniedCertificates: patch.deniedCertificates ?? current.deniedCertificates,
        },
        c.get('context'),
      );
      return c.json(currentSecurity(), 200);
    },
  );

  api.route(
    'audit.read',
    {
      method: 'get',
      path: '/api/v1/audit',
      summary: 'The security event log, newest first, paged',
      request: { query: AuditQuerySchema },
      responses: {
        200: {
          description: 'A page of events, or with format=csv all of them',
          content: {
            ...jsonResponse(AuditSchema, 'A page of events').content,
            ...csvResponse(
              'id, time, type, interface, result, slot, role, source, detail; one line per event',
            ).content,
          },
        },
      },
    },
    (c) => {
      const { limit, before, type, format } = c.req.valid('query');
      const log = deps.eventLog;
      // The refusals counted so far become summary events now, so the reader sees them.
      log.flush(deps.now(), true);
      const events = log.readAll();
      const all = events
        .filter(
          (e) => (before === undefined || e.id < before) && (type === undefined || e.type.startsWith(type)),
        )
        .reverse();
      if (format === 'csv') {
        const rows = all.map((e) => [
          e.id,
          new Date(e.time).toISOString(),
          e.type,
          e.interface,
          e.result,
          e.slot ?? null,
          e.role ?? null,
          e.source ?? null,
          e.detail ?? null,
        ]);
        const name = `metergate-${deps.device.serialNumber}-events.csv`;
        return c.body(csvText(AUDIT_CSV_HEADER, rows), 200, csvHeaders(name));
      }
      const lost = log.lost();
      const integrity = log.integrity();
      if (before === undefined) log.markRead(events.at(-1)?.id ?? 0);
      const page = all.slice(0, limit);
      return c.json(
        {
          events: page.map((e) => ({ ...e, time: new Date(e.time).toISOString() })),
          next: all.length > limit ? (page.at(-1)?.id ?? null) : null,
          lost: lost && {
            since: new Date(lost.since).toISOString(),
            count: lost.overwritten + lost.summarized,
            overwritten: lost.overwritten,
            summarized: lost.summarized,
          },
          integrity: {
            state: integrity.state,
            since: integrity.since === null ? null : new Date(integrity.since).toISOString(),
            detail: integrity.detail,
          },
        },
        200,
      );
    },
  );

  api.route(
    'security.read',
    {
      method: 'get',
      path: '/api/v1/tls',
      summary: 'The HTTPS certificate: fingerprint, subject, validity',
      responses: { 200: jsonResponse(TlsInfoSchema, 'Certificate information') },
    },
    (c) => c.json(deps.tls.info(), 200),
  );

  api.route(
    'security.write',
    {
      method: 'put',
      path: '/api/v1/tls',
      summary:
        'Installs a PEM certificate and its private key (HTTPS only: a private key never crosses plain HTTP)',
      request: jsonBody(TlsUploadSchema),
      responses: { 200: jsonResponse(TlsInfoSchema, 'The new certificate') },
    },
    async (c) => {
      const ctx = c.get('context');
      if (ctx.interface !== 'https') {
        throw new ApiError(
          403,
          'https-required',
          'upload certificates over HTTPS: a private key must not cross plain HTTP',
        );
      }
      const body = c.req.valid('json');
      const info = await replaceCertificate(c, 'uploaded', () =>
        deps.tls.upload(body.certificate, body.privateKey),
      );
      return c.json(info, 200);
    },
  );

  api.route(
    'security.write',
    {
      method: 'delete',
      path: '/api/v1/tls',
      summary:
        'Back to a new self-signed certificate (new key; an uploaded certificate is dropped): the fingerprint changes',
      responses: { 200: jsonResponse(TlsInfoSchema, 'The new certificate') },
    },
    async (c) => {
      const info = await replaceCertificate(c, 'self-signed', () => deps.tls.reset());
      return c.json(info, 200);
    },
  );

  api.route(
    'security.read',
    {
      method: 'get',
      path: '/api/v1/modbus/ca',
      summary: 'The CA that Modbus/TCP Security client certificates must chain to (null: none uploaded)',
      responses: { 200: jsonResponse(z.object({ ca: CaInfoSchema.nullable() }), 'The Modbus client CA') },
    },
    (c) => c.json({ ca: deps.tls.modbusCaInfo() }, 200),
  );

  api.route(
    'security.write',
    {
      method: 'put',
      path: '/api/v1/modbus/ca',
      summary: 'Installs the CA (PEM) that Modbus/TCP Security client certificates must chain to',
      request: jsonBody(CaUploadSchema),
      responses: { 200: jsonResponse(z.object({ ca: CaInfoSchema }), 'The new CA') },
    },
    async (c) => {
      const ca = await recorded(c, 'modbus.ca.upload', () => deps.tls.uploadModbusCa(c.req.valid('json').ca));
      return c.json({ ca }, 200);
    },
  );

  api.route(
    'security.read',
    {
      method: 'get',
      path: '/api/v1/modbus/crl',
      summary: "The Modbus client CA's CRL checked at every Modbus/TLS handshake (null: none uploaded)",
      responses: { 200: jsonResponse(z.object({ crl: CrlInfoSchema.nullable() }), 'The CRL') },
    },
    (c) => c.json({ crl: deps.tls.modbusCrlInfo() }, 200),
  );

  api.route(
    'security.write',
    {
      method: 'put',
      path: '/api/v1/modbus/crl',
      summary:
        "Installs the Modbus client CA's CRL (PEM; signed by that CA, current); applies to the next handshake (HTTPS only)",
      request: jsonBody(CrlUploadSchema),
      responses: { 200: jsonResponse(z.object({ crl: CrlInfoSchema }), 'The new CRL') },
    },
    async (c) => {
      requireHttps(c, 'a CRL');
      const crl = await recorded(
        c,
        'modbus.crl.upload',
        () => deps.tls.uploadModbusCrl(c.req.valid('json').crl),
        (info) =>
          `revoked=${info.revoked} next=${info.nextUpdate}${info.crlNumber ? ` number=${info.crlNumber}` : ''}`,
      );
      return c.json({ crl }, 200);
    },
  );
}

/**
 * A change that would cut off the administrator making it is refused (409) rather than stored: a
 * whitelist without their address, plain HTTP switched away while they use it (or with no HTTPS to go
 * to), host names without the one they reached the device by.
 */
export function refuseSelfLockout(
  c: Context<AppEnv>,
  patch: { whitelist?: string[]; http?: HttpMode; hostnames?: string[] },
  deps: ApiDeps,
): void {
  const { source, interface: iface } = c.get('context');
  const wellFormed = patch.whitelist?.every((entry) => parseWhitelistEntry(entry) !== null) ?? false;
  if (
    wellFormed &&
    patch.whitelist &&
    patch.whitelist.length > 0 &&
    !createAddressFilter(patch.whitelist)(source)
  ) {
    throw new ApiError(
      409,
      'whitelist-excludes-you',
      `this whitelist would drop your own connection from ${source}`,
      {
        field: 'whitelist',
      },
    );
  }
  if (patch.http !== undefined && patch.http !== 'on') {
    if (iface !== 'https') {
      throw new ApiError(
        409,
        'http-excludes-you',
        `you are connected over plain HTTP: connect over HTTPS to set http to '${patch.http}'`,
        { field: 'http' },
      );
    }
  }
  if (patch.hostnames !== undefined) {
    const host = c.req.header('host');
    if (!deps.names.isOwn(host, c.env.incoming.socket.localAddress, patch.hostnames)) {
      throw new ApiError(
        409,
        'hostnames-exclude-you',
        `you reached the device as '${host}': keep that name in hostnames or connect by another of its names`,
        { field: 'hostnames' },
      );
    }
  }
}
