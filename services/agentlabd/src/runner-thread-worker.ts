/**
 * The worker-thread side of agentlabd's runner (runner-thread.ts starts it): serves RunnerService
 * on the runner socket exactly as the standalone runner does, and answers the parent's messages —
 * `metrics` (this thread's families as Prometheus text) and `close`.
 */
import { parentPort, workerData } from "node:worker_threads";
import { type AgentLabConfig, createLogger } from "@agentlab/core";
import { createMetricsRegistry } from "@agentlab/core/metrics/metrics-registry";
import { startRunner } from "@agentlab/runner/runner-server";
import type { RunnerThreadData, RunnerThreadReply, RunnerThreadRequest } from "./runner-thread-messages.js";

export function isRunnerThread(data: unknown = workerData): data is RunnerThreadData {
  return typeof data === "object" && data !== null && (data as RunnerThreadData).agentlabdRunnerThread === true;
}

export async function runRunnerThread(): Promise<void> {
  const port = parentPort;
  if (!port || !isRunnerThread()) throw new Error("runRunnerThread() runs only inside agentlabd's runner thread");
  const data = workerData as RunnerThreadData;
  const config = data.config as AgentLabConfig;
  const reply = (message: RunnerThreadReply) => port.postMessage(message);
  // Lines go to the main thread, the only writer of agentlabd's stdout: two threads writing one
  // pipe can split each other's lines once a buffered write passes PIPE_BUF.
  const logger = createLogger({
    service: "agentlabd",
    level: config.log_level,
    destination: { write: (line: string) => reply({ type: "log", line }) },
  }).child({ service: "runner" });
  // Process-wide metrics (CPU, memory, GC) come from the main thread's registry: only the runner's own here.
  const metrics = data.metrics ? createMetricsRegistry("agentlabd", { defaultMetrics: false }) : undefined;
  let runner: Awaited<ReturnType<typeof startRunner>>;
  try {
    runner = await startRunner({ config, logger, configPath: data.configPath, ...(metrics && { metrics }) });
  } catch (err) {
    const error = err instanceof Error ? err : new Error(String(err));
    reply({ type: "failed", name: error.name, message: error.message });
    port.close();
    return;
  }
  port.on("message", (request: RunnerThreadRequest) => {
    if (request.type === "metrics") {
      (metrics ? metrics.metrics() : Promise.resolve("")).then(
        (text) => reply({ type: "metrics", id: request.id, text }),
        (err: unknown) => reply({ type: "metrics", id: request.id, error: String(err) }),
      );
    } else if (request.type === "close") {
      runner
        .close()
        .then(
          () => reply({ type: "closed" }),
          (err: unknown) => reply({ type: "closed", error: String(err) }),
        )
        // Closing the port ends the thread (log lines already went out as messages, in order).
        .finally(() => port.close());
    }
  });
  reply({ type: "ready" });
}
