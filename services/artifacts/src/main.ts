import { ArtifactRegistryService } from "@agentlab/api";
import { ConfigError, formatConfigIssue } from "@agentlab/core/config/config-error";
import { loadConfig } from "@agentlab/core/config/load-config";
import { isLoopbackHost, parseHostPort } from "@agentlab/core/config/network-address";
import { createLogger } from "@agentlab/core/logger";
import { createPeerTransport } from "@agentlab/core/peer-transport";
import { versionLine } from "@agentlab/core/version";
import { createClient } from "@connectrpc/connect";
import { startArtifactsServer } from "./artifacts-server.js";
import { startMemoryTrace } from "./memory-trace.js";

const USAGE = "usage: agentlab-artifacts [--config PATH] [--config-check] [--version]";

/**
 * agentlab-artifacts: serves ArtifactService on artifacts_socket and the guest upload routes on
 * artifact_listen, reaching control's ArtifactRegistryService over socket_path.
 */
async function main(argv: string[]): Promise<number> {
  if (argv.includes("--version")) {
    process.stdout.write(`${versionLine()}\n`);
    return 0;
  }
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const configIndex = argv.indexOf("--config");
  const configPath = configIndex >= 0 ? argv[configIndex + 1] : undefined;
  if (configIndex >= 0 && !configPath) {
    process.stderr.write(`agentlab-artifacts: --config needs a path\n${USAGE}\n`);
    return 2;
  }
  let loaded: ReturnType<typeof loadConfig>;
  try {
    loaded = loadConfig({ ...(configPath !== undefined && { path: configPath }), requireFile: true });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const warning of err.warnings) process.stderr.write(`warning: ${formatConfigIssue(warning)}\n`);
    process.stderr.write(`agentlab-artifacts: ${err.message}\n`);
    return 1;
  }
  for (const warning of loaded.warnings) process.stderr.write(`warning: ${formatConfigIssue(warning)}\n`);
  if (argv.includes("--config-check")) {
    process.stdout.write(`configuration ok: ${loaded.sourcePath ?? "defaults"}\n`);
    return 0;
  }
  const config = loaded.config;
  // Proxmox guests upload over the network (artifact_listen); local sandboxes through the Unix
  // socket the runner mounts into them (artifacts_guest_socket). A loopback artifact_listen is
  // bound for any backend: it cannot expose anything.
  const listenAt = parseHostPort(config.artifact_listen);
  if (!listenAt) throw new Error(`artifact_listen ${config.artifact_listen} is not host:port`);
  const guestListen = config.sandbox_backend === "proxmox" || isLoopbackHost(listenAt.host) ? listenAt : undefined;
  const logger = createLogger({ service: "artifacts" });
  const stopMemoryTrace = startMemoryTrace();
  const registry = createClient(
    ArtifactRegistryService,
    createPeerTransport(`unix://${config.socket_path}`, { protocol: "connect" }),
  );
  const server = await startArtifactsServer({
    artifactDir: config.artifact_dir,
    socketPath: config.artifacts_socket,
    socketGroup: "agentlab",
    ...(guestListen ? { guestListen } : {}),
    ...(config.sandbox_backend === "local" ? { guestSocketPath: config.artifacts_guest_socket } : {}),
    agentSubnet: config.agent_subnet,
    maxBytes: config.artifact_max_bytes,
    rateLimit: { qps: config.artifact_rate_limit_qps, burst: config.artifact_rate_limit_burst },
    registry,
    logger,
    ...(config.artifacts_metrics_listen !== undefined && { metricsListen: config.artifacts_metrics_listen }),
  });
  // Tells a supervising process (tests, the benchmark) where the guest listener ended up.
  process.stdout.write(`${JSON.stringify({ ready: true, socket: server.socketPath, guest: server.guestAddress })}\n`);
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      logger.info({ signal }, "shutting down");
      resolve();
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });
  await server.close();
  stopMemoryTrace();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`agentlab-artifacts: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
