/** Where a request came from, for authorization decisions that depend on it and for the event log. */
import type { InterfaceName } from '../core/access.ts';

export type { InterfaceName };

export interface RequestContext {
  readonly interface: InterfaceName;
  /** Remote address (IP) or serial port. */
  readonly source?: string;
}
