/**
 * What every page needs to know: the device (`info`), the permission table, and who the page acts as
 * (`me`), and why the last session ended if it did. Shared through one context; `refresh` asks the
 * device again after a login, a logout, or an answer that suggests the session changed.
 */
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Me } from './api.ts';

export interface Info {
  model: string;
  serialNumber: string;
  firmwareVersion: string;
  deviceKey: string;
  https: { enabled: boolean; port: number | null };
  modbus: { tcp: boolean; rtu: boolean; tls: boolean; tcpPort: number | null; tlsPort: number | null };
  /** What is not as the committed state says (a damaged configuration, a refused file…). */
  degraded?: string[];
}

export interface PermissionTable {
  /** `label` for people, `writes`: lets the holder change the device (GET /permissions). */
  permissions: { bit: number; name: string; label: string; description: string; writes: boolean }[];
  presets: Record<string, string[]>;
  roles: Record<string, { description: string; permissions: string[] }>;
}

export interface Session {
  info: Info;
  table: PermissionTable;
  me: Me;
  /** Why the last session ended, when it ended by itself (not by a logout): said at the login. */
  ended: string | null;
  refresh(): Promise<void>;
}

/** Provided by the app around every page, so it has no default. */
export const SessionContext = createContext<Session>(undefined as never);

export const useSession = (): Session => useContext(SessionContext);
