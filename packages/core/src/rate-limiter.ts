/** A token bucket per key (source address, token digest). */
export interface RateLimiterOptions {
  /** Tokens added per second; 0 disables the limiter. */
  qps: number;
  /** Bucket size: how many calls may arrive at once; 0 disables the limiter. */
  burst: number;
  /** Milliseconds, monotonic; injected so tests need no sleeps. */
  now?: () => number;
  /** Buckets untouched this long are forgotten, so a stream of new keys cannot grow the map forever. */
  idleForgetMs?: number;
}

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  updatedAt: number;
}

const DEFAULT_IDLE_FORGET_MS = 10 * 60 * 1000;

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly now: () => number;
  private readonly idleForgetMs: number;
  private lastPurge: number;

  constructor(private readonly options: RateLimiterOptions) {
    this.now = options.now ?? (() => performance.now());
    this.idleForgetMs = options.idleForgetMs ?? DEFAULT_IDLE_FORGET_MS;
    this.lastPurge = this.now();
  }

  get enabled(): boolean {
    return this.options.qps > 0 && this.options.burst > 0;
  }

  /** Takes one token for `key`, or says how long until one is available. */
  take(key: string): RateDecision {
    if (!this.enabled) return { allowed: true };
    const now = this.now();
    this.purgeIdle(now);
    const bucket = this.buckets.get(key) ?? { tokens: this.options.burst, updatedAt: now };
    bucket.tokens = Math.min(this.options.burst, bucket.tokens + ((now - bucket.updatedAt) / 1000) * this.options.qps);
    bucket.updatedAt = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true };
    }
    const retryAfterSeconds = Math.max(1, Math.ceil((1 - bucket.tokens) / this.options.qps));
    return { allowed: false, retryAfterSeconds };
  }

  /** Number of keys currently tracked (for tests and metrics). */
  get size(): number {
    return this.buckets.size;
  }

  private purgeIdle(now: number): void {
    if (now - this.lastPurge < this.idleForgetMs) return;
    this.lastPurge = now;
    for (const [key, bucket] of this.buckets) {
      if (now - bucket.updatedAt >= this.idleForgetMs) this.buckets.delete(key);
    }
  }
}
