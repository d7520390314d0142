/**
 * agentlabd: control, runner and artifacts in one process, each still its own server on its own
 * socket (DESIGN §1). Start order follows the dependencies: the runner first (control's startup
 * sweep asks it about VMs), then control, then artifacts (which asks control to authorize uploads).
 * The runner runs in a worker thread when the caller names the entry point that serves it there
 * (main.ts does), in this thread otherwise (tests that embed agentlabd).
 */
import { ArtifactRegistryService } from "@agentlab/api";
import { startArtifactsServer } from "@agentlab/artifacts/artifacts-server";
import { startControl } from "@agentlab/control/control-server";
import { type AgentLabConfig, createLogger, createPeerTransport, type Logger, parseHostPort } from "@agentlab/core";
import { createMetricsRegistry } from "@agentlab/core/metrics/metrics-registry";
import { serveMetrics } from "@agentlab/core/metrics/metrics-server";
import { startRunner } from "@agentlab/runner/runner-server";
import { createClient } from "@connectrpc/connect";
import { pino } from "pino";
import { startRunnerThread } from "./runner-thread.js";

export interface Agentlabd {
  reload(): Promise<void>;
  close(): Promise<void>;
  /** Settles when a part of agentlabd stopped on its own (the runner thread): the daemon must exit. */
  failure?: Promise<Error>;
}

export async function startAgentlabd(
  config: AgentLabConfig,
  options: { configPath?: string; dev?: boolean; logger?: Logger; runnerThreadEntry?: URL } = {},
): Promise<Agentlabd> {
  // One writer of stdout for the whole process: the runner thread's lines go through it too.
  const destination = options.logger ? undefined : pino.destination({ dest: 1, sync: false });
  const logger =
    options.logger ??
    createLogger({ service: "agentlabd", level: config.log_level, ...(destination && { destination }) });
  const writeLog = (line: string) => (destination ? destination.write(line) : process.stdout.write(line));
  const closers: Array<() => Promise<void>> = [];
  const closeAll = async () => {
    for (const close of closers.reverse())
      await close().catch((err) => logger.error({ err: String(err) }, "shutdown step failed"));
  };
  try {
    // One registry for all three services and one /metrics: families are prefixed by service.
    const metrics = config.metrics_listen ? createMetricsRegistry("agentlabd") : undefined;
    let runnerMetrics = async () => "";
    let failure: Promise<Error> | undefined;
    if (options.runnerThreadEntry) {
      const thread = await startRunnerThread({
        config,
        configPath: options.configPath,
        entry: options.runnerThreadEntry,
        metrics: metrics !== undefined,
        logger,
        writeLog,
      });
      closers.push(() => thread.close());
      runnerMetrics = () => thread.metrics();
      failure = thread.died;
    } else {
      const runner = await startRunner({
        config,
        ...(metrics && { metrics }),
        logger: logger.child({ service: "runner" }),
        configPath: options.configPath,
      });
      closers.push(() => runner.close());
    }
    const control = await startControl({
      config,
      logger: logger.child({ service: "control" }),
      ...(metrics && { metrics }),
    });
    closers.push(() => control.close());
    const registry = createClient(
      ArtifactRegistryService,
      createPeerTransport(`unix://${config.socket_path}`, { protocol: "connect" }),
    );
    // Proxmox guests upload over the network; local sandboxes only through the mounted socket.
    const guestListen =
      !options.dev && config.sandbox_backend === "proxmox" ? parseHostPort(config.artifact_listen) : undefined;
    const artifacts = await startArtifactsServer({
      artifactDir: config.artifact_dir,
      socketPath: config.artifacts_socket,
      ...(guestListen ? { guestListen } : { guestSocketPath: config.artifacts_guest_socket }),
      agentSubnet: config.agent_subnet,
      maxBytes: config.artifact_max_bytes,
      rateLimit: { qps: config.artifact_rate_limit_qps, burst: config.artifact_rate_limit_burst },
      registry,
      logger: logger.child({ service: "artifacts" }),
      ...(metrics && { metrics }),
    });
    closers.push(() => artifacts.close());
    if (metrics && config.metrics_listen) {
      // The runner thread's families follow this thread's: no family is in both registries.
      const source = {
        contentType: metrics.contentType,
        metrics: async () => (await metrics.metrics()) + (await runnerMetrics()),
      };
      const served = await serveMetrics({ listen: config.metrics_listen, registry: source, logger });
      closers.push(() => served.close());
    }
    return { reload: () => control.reloadProfiles(), close: closeAll, ...(failure && { failure }) };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
