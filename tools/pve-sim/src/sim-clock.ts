/**
 * The simulator's only source of time. Workers, lock waits, agent timing and the RRD cache all go
 * through it, so a manual clock makes every test deterministic: nothing moves until `advance()`.
 */
export interface SimClock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Calls `fn` after `ms`; returns a cancel function. */
  setTimer(ms: number, fn: () => void): () => void;
  /** Resolves after `ms`. */
  sleep(ms: number): Promise<void>;
}

export interface ManualClock extends SimClock {
  /** Moves time forward, firing due timers in order and letting their continuations run. */
  advance(ms: number): Promise<void>;
  /** Timers not yet fired (for tests that wait until a worker is parked). */
  pendingTimers(): number;
}

export function createRealClock(): SimClock {
  const setTimer = (ms: number, fn: () => void): (() => void) => {
    if (ms > 0) {
      const handle = setTimeout(fn, ms);
      return () => clearTimeout(handle);
    }
    // A zero delay (every duration at timeScale 0) runs on the next turn of the event loop:
    // setTimeout would wait at least 1 ms and the next timers phase, and a task takes several such
    // steps (flocks, storage allocation, the work itself). Zero-delay timers still fire in the
    // order they were set, after the I/O already queued, as with setTimeout.
    const handle = setImmediate(fn);
    return () => clearImmediate(handle);
  };
  return {
    now: () => Date.now(),
    setTimer,
    sleep: (ms) => new Promise((resolve) => setTimer(ms, resolve)),
  };
}

interface ManualTimer {
  due: number;
  seq: number;
  fn: () => void;
}

/** Lets promise continuations (and the I/O they trigger) run before the next timer fires. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export function createManualClock(startMs = Date.UTC(2025, 0, 1)): ManualClock {
  let now = startMs;
  let seq = 0;
  const timers = new Set<ManualTimer>();
  const clock: ManualClock = {
    now: () => now,
    setTimer(ms, fn) {
      const timer = { due: now + Math.max(0, ms), seq: seq++, fn };
      timers.add(timer);
      return () => {
        timers.delete(timer);
      };
    },
    sleep: (ms) => new Promise((resolve) => clock.setTimer(ms, resolve)),
    async advance(ms) {
      const target = now + Math.max(0, ms);
      await settle();
      for (;;) {
        let next: ManualTimer | undefined;
        for (const t of timers) {
          if (t.due <= target && (!next || t.due < next.due || (t.due === next.due && t.seq < next.seq))) next = t;
        }
        if (!next) break;
        timers.delete(next);
        now = Math.max(now, next.due);
        next.fn();
        await settle();
        await settle();
      }
      now = target;
      await settle();
    },
    pendingTimers: () => timers.size,
  };
  return clock;
}

/**
 * Wraps a clock so that `cancelAll()` drops every timer the simulator still has pending (close()
 * must not leave timers holding the event loop); a manual clock keeps `advance`/`pendingTimers`.
 */
export function trackTimers<C extends SimClock>(clock: C): { clock: C; cancelAll(): void } {
  const cancels = new Set<() => void>();
  const setTimer = (ms: number, fn: () => void): (() => void) => {
    const cancel = clock.setTimer(ms, () => {
      cancels.delete(cancel);
      fn();
    });
    cancels.add(cancel);
    return () => {
      cancels.delete(cancel);
      cancel();
    };
  };
  const tracked = Object.create(clock) as C;
  Object.assign(tracked, {
    now: () => clock.now(),
    setTimer,
    sleep: (ms: number) => new Promise<void>((resolve) => setTimer(ms, resolve)),
  });
  return {
    clock: tracked,
    cancelAll() {
      for (const cancel of cancels) cancel();
      cancels.clear();
    },
  };
}
