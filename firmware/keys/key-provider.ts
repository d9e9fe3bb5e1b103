/**
 * Where the device root key and the anti-rollback counter live: apart from the flash partition, so a
 * copied or replayed image is useless on its own. The simulator keeps them in files readable only by
 * the firmware user; a Pi can keep the key in OTP and the counter in a hardware monotonic counter.
 */

export const ROOT_KEY_BYTES = 32;

export interface KeyProvider {
  /** A name for logs and `inspect` ("file:/var/lib/metergate/keys"). */
  readonly description: string;
  /** The root key, or null when none has been created yet (first boot or after factory reset). */
  loadRootKey(): Uint8Array | null;
  /** Makes a new random root key, replacing any old one, and returns it. */
  createRootKey(): Uint8Array;
  /** Destroys the root key (factory reset), so everything sealed under it is unreadable. */
  destroyRootKey(): void;
}

/**
 * A counter that only goes up. The secure store advances it to the sequence number of every record it
 * commits and refuses records older than it, which is what makes a replayed old image fail.
 */
export interface MonotonicCounter {
  /** The current value, or null when the counter has never been written. */
  read(): number | null;
  /** Raises the counter to `value`; a lower value is ignored. */
  advance(value: number): void;
  /** Factory reset only: back to "never written". */
  reset(): void;
}
