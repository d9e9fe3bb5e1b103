/**
 * The ports the device's listeners are bound to, as the listeners announce them: HTTP and HTTPS once
 * bound (HTTP again when the security setting opens or closes it), Modbus TCP and Modbus/TCP Security each time they open or close. REST `info` and the HTTPS
 * redirect read them; the graph (boot/device-factory.ts) is built before any listener exists, so the
 * listeners tell it rather than the graph asking them.
 */

/** A bound port, or null when the listener is off, blocked or not bound yet. */
export interface BoundPorts {
  /** Plain HTTP: null also while the security setting `http` is `off`. */
  readonly http: number | null;
  readonly https: number | null;
  readonly modbusTcp: number | null;
  readonly modbusTls: number | null;
}

export class ListenerPorts {
  private ports: BoundPorts = { http: null, https: null, modbusTcp: null, modbusTls: null };

  /** Records what a listener says it is bound to now; ports it does not name keep their value. */
  announce(ports: Partial<BoundPorts>): void {
    this.ports = { ...this.ports, ...ports };
  }

  current(): BoundPorts {
    return this.ports;
  }
}
