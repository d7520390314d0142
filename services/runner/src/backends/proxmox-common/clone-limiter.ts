import { BackendError } from "../../backend-errors.js";

/**
 * Bounds parallel clones per template+storage. Many parallel clones from one template on one
 * storage are the classic source of `clone failed: can't lock file '/var/lock/pve-manager/
 * pve-storage-<id>' - got timeout` (reference/proxmox.md §1.6, §3). Extra callers queue here instead
 * of failing; a queued caller gives up only when its own deadline passes or its signal aborts.
 */
export interface CloneLimiter {
  /** Waits for a slot; the returned function frees it (call it exactly once). */
  acquire(key: string, opts: { deadline: number; now: () => number; signal?: AbortSignal }): Promise<() => void>;
  /** Clones running / waiting for `key` (for tests and metrics). */
  stats(key: string): { active: number; queued: number };
}

interface Waiter {
  grant: () => void;
}

interface Lane {
  active: number;
  queue: Waiter[];
}

export const DEFAULT_CLONE_CONCURRENCY = 2;

export function createCloneLimiter(concurrency = DEFAULT_CLONE_CONCURRENCY): CloneLimiter {
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new BackendError("invalid_argument", `proxmox_clone_concurrency must be an integer ≥ 1, got ${concurrency}`, {
      hint: "set proxmox_clone_concurrency to 2–4 (the default is 2)",
    });
  }
  const lanes = new Map<string, Lane>();

  const laneOf = (key: string): Lane => {
    let lane = lanes.get(key);
    if (!lane) {
      lane = { active: 0, queue: [] };
      lanes.set(key, lane);
    }
    return lane;
  };

  const releaser = (key: string, lane: Lane): (() => void) => {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = lane.queue.shift();
      if (next) {
        next.grant(); // the slot passes straight to the next waiter
        return;
      }
      lane.active--;
      if (lane.active === 0) lanes.delete(key);
    };
  };

  return {
    acquire(key, { deadline, now, signal }) {
      const lane = laneOf(key);
      if (lane.active < concurrency) {
        lane.active++;
        return Promise.resolve(releaser(key, lane));
      }
      return new Promise((resolve, reject) => {
        const waiter: Waiter = {
          grant: () => {
            cleanup();
            resolve(releaser(key, lane));
          },
        };
        const giveUp = (why: string) => {
          cleanup();
          lane.queue = lane.queue.filter((w) => w !== waiter);
          reject(
            new BackendError("deadline", `clone queued behind ${concurrency} running clone(s) of ${key}: ${why}`, {
              hint: "raise proxmox_clone_concurrency if the storage can take it, or the provision deadline",
            }),
          );
        };
        const timer = setTimeout(() => giveUp("deadline passed while waiting"), Math.max(0, deadline - now()));
        const onAbort = () => giveUp("the caller cancelled");
        const cleanup = () => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
        };
        signal?.addEventListener("abort", onAbort, { once: true });
        lane.queue.push(waiter);
      });
    },
    stats(key) {
      const lane = lanes.get(key);
      return { active: lane?.active ?? 0, queued: lane?.queue.length ?? 0 };
    },
  };
}
