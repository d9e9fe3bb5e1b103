/**
 * The running configuration of a device as a commissioning file (commissioning-file.ts, version 1),
 * without secrets: built from what the REST API shows (users, security settings, config), so a fleet
 * can be re-provisioned from what is deployed. Users come without passwords (`metergate provision`
 * generates each one, shows it once and makes it change at first login), API keys without keys (new
 * ones are generated), the admin without a password. What a commissioning file cannot say (syslog,
 * API keys over HTTP, Modbus principals, denied certificates, disabled entries, measurement settings,
 * the meter source) is listed in the file's header comment, so nothing is dropped silently. Pure.
 */
import { stringify } from 'yaml';
import { COMMISSIONING_FILE_VERSION } from './commissioning-file.ts';

/** One slot as GET /api/v1/users lists it. */
export interface ExportedSlot {
  readonly slot: number;
  readonly type: string;
  readonly name: string | null;
  readonly permissions: readonly string[];
  readonly flags: readonly string[];
}

/** What the export reads: GET /api/v1/users, /security, /config and /info, as the device answers. */
export interface RunningConfiguration {
  readonly slots: readonly ExportedSlot[];
  readonly security: {
    readonly passwordMinLength: number;
    readonly lockout: Readonly<Record<string, number>>;
    readonly whitelist: readonly string[];
    readonly apiKeysOverHttp: boolean;
    readonly syslog: { readonly transport: string };
    readonly http: string;
    readonly hostnames: readonly string[];
    readonly deniedCertificates: readonly string[];
  };
  readonly config: {
    readonly measurement: Readonly<Record<string, unknown>>;
    readonly communication: {
      readonly modbusTcp: boolean;
      readonly modbusRtu: boolean;
      readonly modbusTls: boolean;
      readonly unitId: number;
      readonly modbusSlot: number | null;
      readonly rtuSlot: number | null;
    };
  };
  readonly info: {
    readonly serialNumber: string;
    readonly model: string;
    readonly meter?: { readonly source: string; readonly profile: string | null };
  };
}

/** The commissioning file (YAML text) of a running configuration; `now` dates its header. */
export function commissioningFileOf(running: RunningConfiguration, now: Date): string {
  const flagValue = (slot: ExportedSlot, prefix: string) =>
    slot.flags.find((flag) => flag.startsWith(prefix))?.slice(prefix.length);
  const definable = running.slots.filter((s) => s.slot >= 3 && s.name !== null);
  const users = definable
    .filter((s) => s.type === 'user')
    .map((s) => {
      const role = flagValue(s, 'role:');
      return {
        name: s.name,
        ...(role !== undefined ? { role } : { permissions: [...s.permissions] }),
        ...(s.flags.includes('local-only') && { localOnly: true }),
      };
    });
  const apiKeys = definable
    .filter((s) => s.type === 'api-key')
    .map((s) => ({ name: s.name, preset: flagValue(s, 'preset:') }));
  const standard = (slot: number) => [...(running.slots[slot]?.permissions ?? [])];
  const { security, config } = running;
  const file = {
    version: COMMISSIONING_FILE_VERSION,
    admin: {},
    ...(users.length > 0 && { users }),
    ...(apiKeys.length > 0 && { apiKeys }),
    standardUsers: { localgui: standard(1), anonymous: standard(2) },
    ...(security.whitelist.length > 0 && { whitelist: [...security.whitelist] }),
    ...(security.hostnames.length > 0 && { hostnames: [...security.hostnames] }),
    http: security.http,
    modbus: {
      tcp: config.communication.modbusTcp,
      rtu: config.communication.modbusRtu,
      tls: config.communication.modbusTls,
    },
    passwordMinLength: security.passwordMinLength,
    lockout: { ...security.lockout },
  };
  const header = [
    `Commissioning file exported from ${running.info.model} ${running.info.serialNumber} on ${now.toISOString()}`,
    "(metergate export --commissioning). Provision a device from it with 'metergate provision'.",
    'No secrets: the admin, every user and every API key get new generated passwords and keys,',
    'printed once by provision (users must change theirs at first login).',
    ...notExported(running).map((line, i) => (i === 0 ? `\n${line}` : line)),
  ];
  const comment = header
    .join('\n')
    .split('\n')
    .map((line) => (line ? `# ${line}` : '#'))
    .join('\n');
  return `${comment}\n${stringify(file, { lineWidth: 0 })}`;
}

/** What the running configuration holds that a commissioning file (version 1) cannot say. */
function notExported(running: RunningConfiguration): string[] {
  const { security, config, slots } = running;
  const lines: string[] = [];
  const disabled = slots.filter((s) => s.flags.includes('disabled')).map((s) => s.name);
  if (disabled.length > 0)
    lines.push(`disabled on the device: ${disabled.join(', ')} (disable again after provisioning)`);
  if (security.syslog.transport !== 'off')
    lines.push(`syslog export: ${security.syslog.transport} (set it with 'metergate security set')`);
  if (security.apiKeysOverHttp) lines.push('API keys accepted over plain HTTP');
  if (security.deniedCertificates.length > 0)
    lines.push(`denied Modbus/TLS client certificates: ${security.deniedCertificates.length}`);
  const { modbusSlot, rtuSlot, unitId } = config.communication;
  const principal = (slot: number | null) =>
    slot === null ? 'nobody' : (slots[slot]?.name ?? `slot ${slot}`);
  if (modbusSlot !== 2 || rtuSlot !== 2)
    lines.push(`Modbus principals: TCP ${principal(modbusSlot)}, RTU ${principal(rtuSlot)}`);
  lines.push(`measurement settings: ${JSON.stringify(config.measurement)}, unit id ${unitId}`);
  const meter = running.info.meter;
  if (meter) {
    lines.push(
      `meter source: ${meter.source}${meter.profile ? ` (profile ${meter.profile})` : ''}; add 'meter:' by hand (the API does not show its address)`,
    );
  }
  return lines.length > 0
    ? ['Not in a commissioning file, set on the device by hand if needed:', ...lines.map((l) => `- ${l}`)]
    : [];
}
