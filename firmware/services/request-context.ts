/** Where a request came from, for authorization decisions that depend on it and for the event log. */

export type InterfaceName =
  | 'http'
  | 'https'
  | 'modbus-tcp'
  | 'modbus-tls'
  | 'modbus-rtu'
  | 'display'
  | 'cli'
  | 'system';

export interface RequestContext {
  readonly interface: InterfaceName;
  /** Remote address (IP) or serial port. */
  readonly source?: string;
}
