/** The signals that ask the guest runner to stop: systemd's KillSignal, and Ctrl-C on a terminal. */
export type StopSignal = "SIGTERM" | "SIGINT";

export const STOP_SIGNALS: readonly StopSignal[] = ["SIGTERM", "SIGINT"];

const SIGNAL_NUMBERS: Record<StopSignal, number> = { SIGINT: 2, SIGTERM: 15 };

/**
 * The shell's convention for "ended by signal N" (130 for SIGINT, 143 for SIGTERM). The guest exits
 * with it once it has nothing left to report, so that the unit's SuccessExitStatus= can treat a
 * deliberate stop as clean, while exit 1 keeps meaning "a restart has a report to resend".
 */
export function signalExitCode(signal: StopSignal): number {
  return 128 + SIGNAL_NUMBERS[signal];
}

type Listener<T> = (value: T) => void;

/**
 * The guest runner's own stop request. The first signal asks for an orderly stop: the job in progress
 * stops its agent, uploads what it has and reports. Anything after that (a second signal, or the
 * wind-down deadline) forces an exit at once. Both are sticky: a listener added after the fact is
 * called at once, so a signal that arrives between two phases of the guest is never lost.
 *
 * Kept apart from process.on() so that tests running the guest in-process can stop it without
 * signalling the test runner itself.
 */
export class GuestStop {
  private first: StopSignal | undefined;
  private forceReason: string | undefined;
  private readonly stopListeners = new Set<Listener<StopSignal>>();
  private readonly forceListeners = new Set<Listener<string>>();

  /** The first stop signal received, if any. */
  get signal(): StopSignal | undefined {
    return this.first;
  }

  /** Why an immediate exit was forced ("a second SIGTERM", a deadline), if it was. */
  get forced(): string | undefined {
    return this.forceReason;
  }

  /** Called once on the first signal (at once if it came already). Returns a remover. */
  onStop(listener: Listener<StopSignal>): () => void {
    return this.subscribe(this.stopListeners, listener, this.first);
  }

  /** Called once when an immediate exit is forced (at once if it was already). Returns a remover. */
  onForce(listener: Listener<string>): () => void {
    return this.subscribe(this.forceListeners, listener, this.forceReason);
  }

  /** Resolves with the first signal; `off` stops waiting (so nothing stays subscribed). */
  whenStopped(): { promise: Promise<StopSignal>; off: () => void } {
    let off = () => {};
    const promise = new Promise<StopSignal>((resolve) => {
      off = this.onStop(resolve);
    });
    return { promise, off };
  }

  /** A signal arrived: the first asks for an orderly stop, any later one forces an exit. */
  receive(signal: StopSignal): void {
    if (this.first === undefined) {
      this.first = signal;
      this.emit(this.stopListeners, signal);
      return;
    }
    this.force(`a second ${signal}`);
  }

  /** Forces an immediate exit (idempotent). */
  force(reason: string): void {
    if (this.forceReason !== undefined) return;
    this.forceReason = reason;
    this.emit(this.forceListeners, reason);
  }

  private subscribe<T>(set: Set<Listener<T>>, listener: Listener<T>, already: T | undefined): () => void {
    if (already !== undefined) {
      listener(already);
      return () => {};
    }
    set.add(listener);
    return () => set.delete(listener);
  }

  private emit<T>(set: Set<Listener<T>>, value: T): void {
    const listeners = [...set];
    set.clear();
    for (const listener of listeners) listener(value);
  }
}
