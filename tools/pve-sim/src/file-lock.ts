import { PveError, pveDie } from "./pve-error.js";
import { lockTimeout } from "./pve-messages.js";
import type { SimClock } from "./sim-clock.js";

/**
 * A simulated flock (reference/proxmox.md §1.6): shared or exclusive, FIFO waiters, and a timeout
 * that fails with PVE's `can't lock file '<path>' - got timeout`.
 */
export type LockMode = "shared" | "exclusive";

interface LockWaiter {
  mode: LockMode;
  grant: () => void;
}

export interface FileLockSnapshot {
  path: string;
  mode: "none" | LockMode;
  holders: number;
  waiters: number;
}

export class FileLock {
  readonly path: string;
  private mode: "none" | LockMode = "none";
  private holders = 0;
  private readonly waiters: LockWaiter[] = [];

  constructor(path: string) {
    this.path = path;
  }

  snapshot(): FileLockSnapshot {
    return { path: this.path, mode: this.mode, holders: this.holders, waiters: this.waiters.length };
  }

  private compatible(mode: LockMode): boolean {
    if (this.holders === 0) return true;
    return mode === "shared" && this.mode === "shared";
  }

  private take(mode: LockMode): () => void {
    this.mode = mode;
    this.holders++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holders--;
      if (this.holders === 0) this.mode = "none";
      this.wakeWaiters();
    };
  }

  private wakeWaiters(): void {
    while (this.waiters.length > 0 && this.compatible(this.waiters[0]!.mode)) {
      const waiter = this.waiters.shift()!;
      waiter.grant();
    }
  }

  /**
   * Waits up to `timeoutMs` for the lock; resolves with its release function. Rejects with the PVE
   * timeout text, or with `abortReason` when `signal` aborts first (an aborted task).
   */
  acquire(mode: LockMode, timeoutMs: number, clock: SimClock, signal?: AbortSignal): Promise<() => void> {
    if (this.waiters.length === 0 && this.compatible(mode)) return Promise.resolve(this.take(mode));
    return new Promise((resolve, reject) => {
      let cancelTimer: () => void = () => {};
      const onAbort = (): void => {
        remove();
        reject(signal?.reason instanceof PveError ? signal.reason : pveDie(String(signal?.reason ?? "aborted")));
      };
      const waiter: LockWaiter = {
        mode,
        grant: () => {
          cancelTimer();
          signal?.removeEventListener("abort", onAbort);
          resolve(this.take(mode));
        },
      };
      const remove = (): void => {
        cancelTimer();
        signal?.removeEventListener("abort", onAbort);
        const index = this.waiters.indexOf(waiter);
        if (index >= 0) this.waiters.splice(index, 1);
      };
      this.waiters.push(waiter);
      cancelTimer = clock.setTimer(timeoutMs, () => {
        remove();
        reject(pveDie(lockTimeout(this.path)));
        // A shared waiter behind a timed-out exclusive one may now proceed.
        this.wakeWaiters();
      });
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
}
