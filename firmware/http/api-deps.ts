/** What the REST routes are given by boot: the services and a few device facts. Nothing is imported. */
import type { SessionStore } from '../auth/session-store.ts';
import type { DeviceNames } from '../net/device-names.ts';
import type { BackupService } from '../services/backup-service.ts';
import type { ClientRegistry } from '../services/client-registry.ts';
import type { FirmwareService } from '../services/firmware-service.ts';
import type { LoginService } from '../services/login-service.ts';
import type { MeteringService } from '../services/metering-service.ts';
import type { SecurityService } from '../services/security-service.ts';
import type { ConfigHealth } from '../store/config-store.ts';
import type { SecurityLog } from '../store/security-log.ts';
import type { TlsService } from '../tls/tls-service.ts';
import type { WebSite } from './web-site.ts';

export interface DeviceFacts {
  readonly model: string;
  readonly serialNumber: string;
  readonly firmwareVersion: string;
  readonly deviceKey: Uint8Array;
  /** Bound ports right now (null = off), for `info` and `status`. */
  readonly ports: () => {
    readonly http?: number | null;
    readonly https: number | null;
    readonly modbusTcp: number | null;
    readonly modbusTls: number | null;
  };
  /** What is not as the committed state says, one sentence each (boot-device.ts `degraded`). */
  readonly degraded?: () => readonly string[];
  /** When this boot started (ms): `status` gives the uptime from it. */
  readonly startedAt?: number;
  /** The configuration record's health (store/config-store.ts), for `status`. */
  readonly configuration?: () => ConfigHealth['state'];
}

export interface ApiDeps {
  readonly security: SecurityService;
  readonly login: LoginService;
  readonly sessions: SessionStore;
  readonly metering: MeteringService;
  readonly registry: ClientRegistry;
  readonly eventLog: SecurityLog;
  readonly tls: TlsService;
  readonly backup: BackupService;
  readonly device: DeviceFacts;
  /** The names the device answers to (Host and Origin checks). */
  readonly names: DeviceNames;
  readonly now: () => number;
  /** The built device website, served at `/`; absent: the API alone. */
  readonly website?: WebSite | null;
  /** Signed updates (the launcher's layout); absent: GET reports the built version, POST is refused. */
  readonly firmware?: FirmwareService | null;
  /** Ends the process so that the launcher installs an accepted bundle; absent: no restart. */
  readonly restart?: () => void;
}
