/**
 * A background loop: runs once at start, then every interval, never overlapping itself, logging
 * (not throwing) failures. Timers are injected so tests can drive loops by hand.
 */
import type { Logger } from "@agentlab/core";

export interface LoopTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: LoopTimers = {
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface PeriodicLoop {
  start(): void;
  stop(): Promise<void>;
  /** One run now (waits for a run already in progress first). */
  runOnce(): Promise<void>;
}

export function createPeriodicLoop(options: {
  name: string;
  intervalMs: number;
  run: () => Promise<unknown>;
  logger: Logger;
  timers?: LoopTimers;
}): PeriodicLoop {
  const timers = options.timers ?? realTimers;
  let handle: unknown;
  let stopped = true;
  let current: Promise<void> = Promise.resolve();

  const runOnce = (): Promise<void> => {
    current = current.then(async () => {
      try {
        await options.run();
      } catch (err) {
        options.logger.error(
          { loop: options.name, err: err instanceof Error ? err.message : String(err) },
          "background loop failed",
        );
      }
    });
    return current;
  };
  const schedule = () => {
    if (stopped) return;
    handle = timers.setTimeout(() => {
      void runOnce().then(schedule);
    }, options.intervalMs);
  };
  return {
    start() {
      if (!stopped) return;
      stopped = false;
      void runOnce().then(schedule);
    },
    async stop() {
      stopped = true;
      if (handle !== undefined) timers.clearTimeout(handle);
      await current;
    },
    runOnce,
  };
}
