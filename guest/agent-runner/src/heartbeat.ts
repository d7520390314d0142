import type { ControlChannel } from "./control-channel.js";

/**
 * Keeps control from declaring the guest lost: every interval, unless a log batch or report already
 * reached control within half an interval, sends ReportStatus RUNNING. Runs from bootstrap to the
 * final report, so a long clone or upload counts as alive too.
 */
export function startHeartbeat(channel: ControlChannel, intervalMs: number, message: () => string): () => void {
  let busy = false;
  const timer = setInterval(() => {
    if (busy || channel.sinceLastContactMs() < intervalMs / 2) return;
    busy = true;
    void channel.reportRunning(message()).finally(() => {
      busy = false;
    });
  }, intervalMs);
  // The heartbeat alone must never keep the process alive.
  timer.unref();
  return () => clearInterval(timer);
}
