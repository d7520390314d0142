/**
 * Dependencies every Proxmox backend takes from its caller so tests can fake them: the clock, the
 * sleep between polls, the jitter source and a logger. Defaults are the real ones.
 */
export interface ProxmoxLogger {
  warn(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
}

export interface RuntimeDeps {
  /** Epoch milliseconds. */
  now: () => number;
  /** Resolves after `ms`, or rejects early when `signal` aborts. */
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Uniform in [0, 1); used for back-off jitter. */
  random: () => number;
  log: ProxmoxLogger;
}

export function realSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason ?? new Error("aborted"));
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason ?? new Error("aborted"));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

const stderrLogger: ProxmoxLogger = {
  warn: (message, fields) => process.stderr.write(`WARN ${message}${fields ? ` ${JSON.stringify(fields)}` : ""}\n`),
  info: () => {},
};

export function resolveDeps(partial: Partial<RuntimeDeps> | undefined): RuntimeDeps {
  return {
    now: partial?.now ?? Date.now,
    sleep: partial?.sleep ?? realSleep,
    random: partial?.random ?? Math.random,
    log: partial?.log ?? stderrLogger,
  };
}
