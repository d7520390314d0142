/**
 * Diagnostic variant for the lifecycle benchmark (LIFECYCLE_POLL_MS=n): a runner whose task, agent
 * and lock polls start at n ms instead of the production 0.5 s (reference/proxmox.md §1.4), served
 * on its own Unix socket from the benchmark process, and named in control's `runners` list. It
 * separates what the polling policy costs on a zero-delay node from everything else.
 */
import { createLogger, loadConfig } from "@agentlab/core";
import { createProxmoxApiBackend } from "@agentlab/runner/backends/proxmox-api/proxmox-api-backend";
import { type RunnerServer, startRunner } from "@agentlab/runner/runner-server";
import type { SimInfo } from "./lifecycle-processes.js";

export async function startFastPollRunner(options: {
  configPath: string;
  socketPath: string;
  sim: SimInfo;
  snippetsDir: string;
  pollMs: number;
  cloneConcurrency: number;
}): Promise<RunnerServer> {
  const { config } = loadConfig({ path: options.configPath });
  const poll = { initialMs: options.pollMs, maxMs: Math.max(options.pollMs, 50), factor: 2 };
  const backend = createProxmoxApiBackend({
    ownerTag: `agentlab-${config.deployment_id}`,
    apiUrl: new URL(options.sim.url).origin,
    apiToken: options.sim.token,
    tls: { fingerprint: options.sim.fingerprint },
    snippetsDir: options.snippetsDir,
    cloneConcurrency: options.cloneConcurrency,
    taskPoll: poll,
    agentPoll: poll,
    lockRetry: poll,
  });
  return startRunner({
    config,
    logger: createLogger({ service: "bench-runner", level: "error" }),
    socketPath: options.socketPath,
    backend,
  });
}
