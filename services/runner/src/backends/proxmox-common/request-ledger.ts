import { BackendError } from "../../backend-errors.js";

/**
 * Remembers provision requests by request id (DESIGN §1: "a retried call never clones twice"). A
 * retry while the first call still runs joins it; a retry after success gets the same answer; a retry
 * after failure runs again. This in-memory map covers retries within one runner process; across a
 * restart the description marker written at clone time does the same job (vm-config-fields.ts).
 */
export interface RequestLedger {
  run<T>(requestId: string, vmid: number, work: () => Promise<T>): Promise<T>;
}

interface Entry {
  vmid: number;
  promise: Promise<unknown>;
  startedAt: number;
  settledAt?: number;
  failed?: boolean;
}

export function createRequestLedger(now: () => number, keepMs = 60 * 60 * 1000): RequestLedger {
  // Insertion order is start order (a request run again is re-inserted), so pruning walks from the
  // oldest and stops at the first request started within keepMs: one that recent cannot have
  // settled before the cutoff. Each call costs the entries it removes plus those still running,
  // not the whole hour's worth of provisions.
  const entries = new Map<string, Entry>();

  const prune = () => {
    const cutoff = now() - keepMs;
    for (const [id, entry] of entries) {
      if (entry.startedAt >= cutoff) break;
      if (entry.settledAt !== undefined && entry.settledAt < cutoff) entries.delete(id);
    }
  };

  return {
    run<T>(requestId: string, vmid: number, work: () => Promise<T>): Promise<T> {
      prune();
      const existing = entries.get(requestId);
      if (existing && existing.vmid !== vmid) {
        return Promise.reject(
          new BackendError(
            "invalid_argument",
            `request id ${requestId} was already used for VM ${existing.vmid}, now for VM ${vmid}`,
            {
              vmid,
              hint: "use a fresh request id for a different VMID",
            },
          ),
        );
      }
      if (existing && !existing.failed) return existing.promise as Promise<T>;
      const entry: Entry = { vmid, promise: Promise.resolve(), startedAt: now() };
      const promise = work().then(
        (value) => {
          entry.settledAt = now();
          return value;
        },
        (err: unknown) => {
          entry.settledAt = now();
          entry.failed = true;
          throw err;
        },
      );
      entry.promise = promise;
      entries.delete(requestId); // a failed request run again moves to the end, in start order
      entries.set(requestId, entry);
      return promise;
    },
  };
}
