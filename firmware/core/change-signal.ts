/**
 * A service's announcement of a change: listeners subscribe (the boot wires the listeners, Modbus, the
 * display to the services that change), the service emits once the change is stored. `emit` resolves
 * when every listener has run, so an operation can resolve once its change has taken effect; a
 * listener's failure is its own and neither stops the others nor reaches the service.
 */
export type ChangeListener<T> = (change: T) => void | Promise<void>;

export class ChangeSignal<T = void> {
  private readonly listeners = new Set<ChangeListener<T>>();

  /** Adds `listener`; the returned function removes it. */
  subscribe(listener: ChangeListener<T>): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async emit(change: T): Promise<void> {
    await Promise.all(
      [...this.listeners].map((listener) => {
        try {
          return Promise.resolve(listener(change)).catch(() => {});
        } catch {
          return undefined;
        }
      }),
    );
  }
}
