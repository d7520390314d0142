import { InvalidArgumentError } from "@agentlab/core";

export interface RequestIdCacheOptions {
  /** Most request ids remembered; the least recently used is forgotten first. Default 10 000. */
  maxEntries?: number;
  /** How long a result is remembered, ms. Default one hour: far longer than control retries. */
  ttlMs?: number;
  /** Epoch milliseconds; injected for tests. */
  now?: () => number;
}

interface Entry {
  /** What the first request asked for: a retry must ask for exactly the same thing. */
  fingerprint: string;
  result: Promise<unknown>;
  storedAt: number;
}

export const DEFAULT_REQUEST_ID_CACHE_ENTRIES = 10_000;
export const DEFAULT_REQUEST_ID_TTL_MS = 60 * 60 * 1000;

/**
 * The service-level idempotency layer (DESIGN §1): a mutating call retried with the same request id
 * gets the first call's result, or joins it while it is still running, instead of doing the work
 * twice. Only successes are remembered: after a failure the retry should do the work again (the
 * Proxmox backends keep their own ledger so that a clone already under way is found, not repeated).
 */
export class RequestIdCache {
  private readonly entries = new Map<string, Entry>();
  private readonly maxEntries: number;
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(options: RequestIdCacheOptions = {}) {
    this.maxEntries = options.maxEntries ?? DEFAULT_REQUEST_ID_CACHE_ENTRIES;
    this.ttlMs = options.ttlMs ?? DEFAULT_REQUEST_ID_TTL_MS;
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * Runs `work` once per request id. `fingerprint` identifies the request's method and body; the
   * same id with another fingerprint is a caller bug (a reused id) and is refused.
   */
  run<T>(requestId: string, fingerprint: string, work: () => Promise<T>): Promise<T> {
    const now = this.now();
    const existing = this.entries.get(requestId);
    if (existing && now - existing.storedAt < this.ttlMs) {
      if (existing.fingerprint !== fingerprint) {
        return Promise.reject(
          new InvalidArgumentError({
            message: "request_id was already used for a different request",
            what: "request_id",
            value: requestId,
            hint: "use a new request id for each distinct request; reuse it only to retry the same request",
          }),
        );
      }
      // Map order is insertion order: re-inserting makes this the most recently used.
      this.entries.delete(requestId);
      this.entries.set(requestId, existing);
      return existing.result as Promise<T>;
    }
    if (existing) this.entries.delete(requestId);

    const result = work();
    const entry: Entry = { fingerprint, result, storedAt: now };
    this.entries.set(requestId, entry);
    result.catch(() => {
      if (this.entries.get(requestId) === entry) this.entries.delete(requestId);
    });
    this.evict(now);
    return result;
  }

  private evict(now: number): void {
    for (const [id, entry] of this.entries) {
      if (this.entries.size <= this.maxEntries && now - entry.storedAt < this.ttlMs) break;
      this.entries.delete(id);
    }
  }
}
