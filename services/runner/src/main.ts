import {
  ConfigError,
  type ConfigIssue,
  createLogger,
  DomainError,
  formatConfigIssue,
  type LoadedConfig,
  loadConfig,
  parseHostPort,
  versionLine,
} from "@agentlab/core";
import { createBackend } from "./create-backend.js";
import { runnerConfigIssues } from "./runner-config-check.js";
import { startRunner } from "./runner-server.js";

const USAGE = `usage: agentlab-runner [--config PATH] [--config-check] [--socket PATH] [--guest-bundle PATH] [--version]

  --config PATH        config file (default: $AGENTLAB_CONFIG or /etc/agentlab/config.yaml)
  --config-check       validate the config, print every problem, bind nothing; exit 1 if unusable
  --socket PATH        serve on this Unix socket instead of runner_socket
  --guest-bundle PATH  guest runner bundle mounted into local sandboxes
  --db PATH            accepted for symmetry with the other binaries; the runner has no database
  --version            print the build and exit`;

interface RunnerFlags {
  configPath?: string;
  configCheck: boolean;
  socketPath?: string;
  guestBundlePath?: string;
  version: boolean;
  help: boolean;
}

class UsageError extends Error {}

function parseFlags(argv: string[]): RunnerFlags {
  const flags: RunnerFlags = { configCheck: false, version: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const eq = arg.indexOf("=");
    const name = arg.startsWith("--") && eq > 0 ? arg.slice(0, eq) : arg;
    const value = () => {
      if (eq > 0 && name !== arg) return arg.slice(eq + 1);
      const next = argv[++i];
      if (next === undefined || next === "") throw new UsageError(`${name} needs a value`);
      return next;
    };
    switch (name) {
      case "--version":
        flags.version = true;
        break;
      case "--help":
      case "-h":
        flags.help = true;
        break;
      case "--config-check":
        flags.configCheck = true;
        break;
      case "--config":
        flags.configPath = value();
        break;
      case "--socket":
        flags.socketPath = value();
        break;
      case "--guest-bundle":
        flags.guestBundlePath = value();
        break;
      case "--db":
        value(); // DESIGN: --db works on every binary; the runner keeps no database, so it is ignored.
        break;
      default:
        throw new UsageError(`unknown argument ${JSON.stringify(arg)}`);
    }
  }
  return flags;
}

function printIssues(kind: "error" | "warning", issues: readonly ConfigIssue[]): void {
  for (const issue of issues) process.stderr.write(`${kind}: ${formatConfigIssue(issue)}\n`);
}

/** Loads the config and the runner's own checks; prints every problem; undefined when unusable. */
function loadRunnerConfig(flags: RunnerFlags): LoadedConfig | undefined {
  let loaded: LoadedConfig;
  try {
    loaded = loadConfig({
      ...(flags.configPath !== undefined && { path: flags.configPath }),
      ...(flags.socketPath !== undefined && { overrides: { runner_socket: flags.socketPath } }),
      requireFile: true,
    });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    printIssues("warning", err.warnings);
    printIssues("error", err.issues);
    return undefined;
  }
  const own = runnerConfigIssues(loaded.config, {
    sourcePath: loaded.sourcePath,
    guestBundlePath: flags.guestBundlePath,
  });
  printIssues("warning", [...loaded.warnings, ...own.warnings]);
  printIssues("error", own.errors);
  return own.errors.length === 0 ? loaded : undefined;
}

function describe(err: unknown): string {
  if (err instanceof DomainError) return err.describe();
  return err instanceof Error ? err.message : String(err);
}

/**
 * agentlab-runner: serves RunnerService for this node's backend on runner_socket. Everything it
 * does is in startRunner (runner-server.ts), which agentlabd also runs in-process.
 */
async function main(argv: string[]): Promise<number> {
  let flags: RunnerFlags;
  try {
    flags = parseFlags(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`agentlab-runner: ${err.message}\n${USAGE}\n`);
    return 2;
  }
  if (flags.version) {
    process.stdout.write(`${versionLine()}\n`);
    return 0;
  }
  if (flags.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const loaded = loadRunnerConfig(flags);
  if (!loaded) {
    process.stderr.write("agentlab-runner: the configuration is unusable; fix the errors above\n");
    return 1;
  }
  const logger = createLogger({ service: "runner", level: loaded.config.log_level });

  if (flags.configCheck) {
    // Building the backend checks its options (tag format, TLS files) without touching the hypervisor.
    try {
      await createBackend(loaded.config, {
        logger,
        configPath: loaded.sourcePath,
        guestBundlePath: flags.guestBundlePath,
      }).close();
    } catch (err) {
      process.stderr.write(`error: ${loaded.sourcePath ?? "config"}: ${describe(err)}\n`);
      return 1;
    }
    process.stdout.write(`configuration ok: ${loaded.sourcePath ?? "defaults"}\n`);
    return 0;
  }

  const server = await startRunner({
    config: loaded.config,
    logger,
    configPath: loaded.sourcePath,
    socketPath: flags.socketPath,
    guestBundlePath: flags.guestBundlePath,
    tcp: runnerTcp(loaded.config),
  });
  // systemd's `reload` sends SIGHUP: the runner has nothing to reload, and must not die of it.
  process.on("SIGHUP", () => logger.info("SIGHUP ignored: the runner has nothing to reload"));
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGTERM", resolve);
    process.once("SIGINT", resolve);
  });
  logger.info({ signal }, "shutting down; local sandboxes keep running");
  await server.close();
  await new Promise<void>((resolve) => logger.flush(() => resolve()));
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`agentlab-runner: ${describe(err)}\n`);
    process.exitCode = 1;
  },
);

/** runner_listen: a control on another node reaches this runner over TCP, with the internal token. */
function runnerTcp(config: { runner_listen?: string | undefined; internal_token?: string | undefined }) {
  if (!config.runner_listen || !config.internal_token) return undefined;
  const at = parseHostPort(config.runner_listen);
  return at ? { ...at, internalToken: config.internal_token } : undefined;
}
