/**
 * A debugging aid for the artifacts service's memory: with AGENTLAB_MEMORY_TRACE=<ms> set, samples
 * process.memoryUsage() every <ms> milliseconds and writes one JSON line per sample to stderr, plus
 * the peak of each component when the process exits. Splitting RSS into V8 heap, external memory
 * (mostly ArrayBuffers: socket reads, HTTP/2 frames, upload chunks) and the rest shows whether a
 * peak comes from live objects, from buffers that are already garbage but not yet collected, or
 * from native allocations.
 */

export const MEMORY_TRACE_ENV = "AGENTLAB_MEMORY_TRACE";

interface Sample {
  rssMiB: number;
  heapUsedMiB: number;
  heapTotalMiB: number;
  externalMiB: number;
  arrayBuffersMiB: number;
}

const MiB = 1024 * 1024;

function sample(): Sample {
  const m = process.memoryUsage();
  const round = (bytes: number) => Math.round((bytes / MiB) * 10) / 10;
  return {
    rssMiB: round(m.rss),
    heapUsedMiB: round(m.heapUsed),
    heapTotalMiB: round(m.heapTotal),
    externalMiB: round(m.external),
    arrayBuffersMiB: round(m.arrayBuffers),
  };
}

/** Starts sampling when the variable is set to a positive number of milliseconds; returns a stopper. */
export function startMemoryTrace(
  env: NodeJS.ProcessEnv = process.env,
  write = (line: string) => process.stderr.write(line),
): () => void {
  const intervalMs = Number(env[MEMORY_TRACE_ENV] ?? "");
  if (!Number.isFinite(intervalMs) || intervalMs <= 0) return () => undefined;
  const peak = sample();
  const timer = setInterval(() => {
    const now = sample();
    for (const key of Object.keys(peak) as (keyof Sample)[]) peak[key] = Math.max(peak[key], now[key]);
    write(`${JSON.stringify({ memory: now })}\n`);
  }, intervalMs);
  timer.unref();
  const report = () => write(`${JSON.stringify({ memory_peak: peak })}\n`);
  process.once("exit", report);
  return () => {
    clearInterval(timer);
    process.off("exit", report);
    report();
  };
}
