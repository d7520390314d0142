/**
 * The command line every control-owning binary shares (`agentlab-control` and `agentlabd`):
 *   (no command)            serve until SIGTERM/SIGINT; SIGHUP reloads profiles
 *   --config-check          validate config and profiles, print every problem, bind nothing
 *   migrate [--dry-run]     list, then apply, pending migrations, and exit
 *   backup --out PATH       online, consistent copy of the database
 *   restore --from PATH     replace the database with a backup (refused while the services run)
 * Common flags: --config PATH, --db PATH (overrides db_path), --version.
 */
import { connect } from "node:net";
import { parseArgs } from "node:util";
import {
  type AgentLabConfig,
  ConfigError,
  type ConfigOverrides,
  formatConfigIssue,
  type LoadedConfig,
  loadConfig,
  versionLine,
} from "@agentlab/core";
import { MigrationError, SchemaRefusedError } from "./db/migration-errors.js";
import { migrate } from "./db/migration-runner.js";
import { backupDatabase } from "./db/online-backup.js";
import { closeDatabase, openDatabase } from "./db/open-database.js";
import { restoreDatabase } from "./db/restore-database.js";
import { formatDiagnostic } from "./profiles/profile-diagnostic.js";
import { ProfileRegistry } from "./profiles/profile-registry.js";

export interface ServiceIo {
  out(line: string): void;
  err(line: string): void;
}

const stdio: ServiceIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

export interface ServeHandle {
  reload(): Promise<void>;
  close(): Promise<void>;
  /** Settles when a part of the service stopped on its own: the rest is shut down and the exit code is 1. */
  failure?: Promise<Error>;
}

export interface ServiceCommandOptions {
  /** Program name for messages, e.g. "agentlabd". */
  program: string;
  /** Starts the services; resolves once they listen. */
  serve(config: AgentLabConfig, loaded: LoadedConfig, flags: Record<string, unknown>): Promise<ServeHandle>;
  /** Extra boolean flags the binary accepts (e.g. agentlabd's --dev). */
  extraFlags?: Record<string, { type: "boolean" | "string"; default?: boolean | string }>;
  /** Lets a binary adjust config loading (agentlabd --dev builds its own config). */
  loadConfig?: (flags: Record<string, unknown>, overrides: ConfigOverrides) => LoadedConfig;
  io?: ServiceIo;
}

/** Runs the binary; resolves with the process exit code (serving resolves only after a signal). */
export async function runServiceCommand(argv: string[], options: ServiceCommandOptions): Promise<number> {
  const io = options.io ?? stdio;
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: "string" },
        db: { type: "string" },
        "config-check": { type: "boolean", default: false },
        "dry-run": { type: "boolean", default: false },
        out: { type: "string" },
        from: { type: "string" },
        version: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
        ...(options.extraFlags ?? {}),
      },
    });
  } catch (err) {
    io.err(`${options.program}: ${err instanceof Error ? err.message : String(err)} (see --help)`);
    return 2;
  }
  const flags = parsed.values as Record<string, unknown>;
  const [command, ...rest] = parsed.positionals;
  if (flags.version) {
    io.out(versionLine());
    return 0;
  }
  if (flags.help) {
    io.out(usage(options.program));
    return 0;
  }
  if (rest.length > 0 || (command && !["migrate", "backup", "restore"].includes(command))) {
    io.err(
      `${options.program}: unknown command ${JSON.stringify([command, ...rest].join(" "))}\n${usage(options.program)}`,
    );
    return 2;
  }
  const overrides: ConfigOverrides = typeof flags.db === "string" ? { db: flags.db } : {};
  let loaded: LoadedConfig;
  try {
    loaded = options.loadConfig
      ? options.loadConfig(flags, overrides)
      : loadConfig({ ...(typeof flags.config === "string" ? { path: flags.config } : {}), overrides });
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const issue of err.issues) io.err(`error: ${formatConfigIssue(issue)}`);
      for (const issue of err.warnings) io.err(`warning: ${formatConfigIssue(issue)}`);
      io.err(`${options.program}: the configuration is not usable (${err.issues.length} error(s))`);
      return 1;
    }
    throw err;
  }
  for (const warning of loaded.warnings) io.err(`warning: ${formatConfigIssue(warning)}`);
  const config = loaded.config;

  try {
    if (flags["config-check"]) return await configCheck(config, loaded, io);
    if (command === "migrate") return await migrateCommand(config, Boolean(flags["dry-run"]), io);
    if (command === "backup") return await backupCommand(config, flags.out, io);
    if (command === "restore") return await restoreCommand(config, flags.from, io);
    return await serveUntilSignal(options, config, loaded, flags, io);
  } catch (err) {
    if (err instanceof MigrationError || err instanceof SchemaRefusedError) {
      io.err(`${options.program}: ${err.message}`);
      const procedure = (err as { restoreProcedure?: string }).restoreProcedure;
      if (procedure) io.err(procedure);
      return 1;
    }
    io.err(`${options.program}: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}

function usage(program: string): string {
  return [
    `usage: ${program} [--config PATH] [--db PATH]            serve`,
    `       ${program} --config-check [--config PATH]       validate config and profiles`,
    `       ${program} migrate [--dry-run] [--db PATH]      apply pending database migrations`,
    `       ${program} backup --out PATH                    online backup of the database`,
    `       ${program} restore --from PATH                  restore a backup (services stopped)`,
    `       ${program} --version`,
  ].join("\n");
}

async function configCheck(config: AgentLabConfig, loaded: LoadedConfig, io: ServiceIo): Promise<number> {
  const profiles = new ProfileRegistry({
    profilesDir: config.profiles_dir,
    logger: { warn: () => {}, error: () => {} },
  });
  await profiles.load();
  let failed = 0;
  for (const problem of profiles.fileProblems()) {
    io.err(formatDiagnostic(problem));
    if (problem.severity === "error") failed++;
  }
  for (const entry of profiles.list()) {
    // formatDiagnostic already says "file:line:col: error|warning: …".
    for (const d of [...entry.errors, ...entry.warnings]) io.err(formatDiagnostic(d));
    if (entry.status !== "ok") failed++;
  }
  const ok = profiles
    .list()
    .filter((p) => p.status === "ok")
    .map((p) => p.name);
  io.out(`config ${loaded.sourcePath ?? "(defaults)"}: ok`);
  io.out(
    `profiles in ${config.profiles_dir}: ${ok.length} ok${ok.length ? ` (${ok.join(", ")})` : ""}, ${failed} unusable`,
  );
  return failed > 0 ? 1 : 0;
}

async function migrateCommand(config: AgentLabConfig, dryRun: boolean, io: ServiceIo): Promise<number> {
  const db = openDatabase(config.db_path);
  try {
    const result = await migrate(db, { dbPath: config.db_path, clock: () => new Date(), dryRun, log: io.out });
    if (result.pending.length === 0) {
      io.out(`database ${config.db_path} is at version ${result.from}: nothing to migrate`);
      return 0;
    }
    // The runner itself logs each migration as it applies it; a dry run has to list them here.
    if (dryRun) for (const m of result.pending) io.out(`pending: ${m.version} ${m.name}`);
    if (result.backupPath) io.out(`backup: ${result.backupPath}`);
    io.out(dryRun ? `${result.pending.length} migration(s) would be applied` : `database now at version ${result.to}`);
    return 0;
  } finally {
    closeDatabase(db);
  }
}

async function backupCommand(config: AgentLabConfig, out: unknown, io: ServiceIo): Promise<number> {
  if (typeof out !== "string" || out === "") {
    io.err("backup needs --out PATH");
    return 2;
  }
  await backupDatabase(config.db_path, out);
  io.out(`backed up ${config.db_path} to ${out}`);
  return 0;
}

async function restoreCommand(config: AgentLabConfig, from: unknown, io: ServiceIo): Promise<number> {
  if (typeof from !== "string" || from === "") {
    io.err("restore needs --from PATH");
    return 2;
  }
  const result = await restoreDatabase({
    from,
    dbPath: config.db_path,
    isServiceRunning: () => socketAnswers(config.socket_path),
  });
  io.out(`restored ${from} to ${config.db_path} (schema version ${result.restoredVersion}); start the services again`);
  return 0;
}

/** True when something accepts connections on the socket: the services are running. */
function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

async function serveUntilSignal(
  options: ServiceCommandOptions,
  config: AgentLabConfig,
  loaded: LoadedConfig,
  flags: Record<string, unknown>,
  io: ServiceIo,
): Promise<number> {
  const handle = await options.serve(config, loaded, flags);
  return new Promise<number>((resolve) => {
    const onHup = () => {
      handle
        .reload()
        .catch((err) =>
          io.err(`${options.program}: reload failed: ${err instanceof Error ? err.message : String(err)}`),
        );
    };
    let stopping = false;
    const stop = (exitCode: number) => {
      if (stopping) return;
      stopping = true;
      process.off("SIGHUP", onHup);
      process.off("SIGTERM", onStop);
      process.off("SIGINT", onStop);
      handle.close().then(
        () => resolve(exitCode),
        (err) => {
          io.err(`${options.program}: shutdown failed: ${err instanceof Error ? err.message : String(err)}`);
          resolve(1);
        },
      );
    };
    const onStop = () => stop(0);
    process.on("SIGHUP", onHup);
    process.on("SIGTERM", onStop);
    process.on("SIGINT", onStop);
    void handle.failure?.then((err) => {
      if (stopping) return;
      io.err(`${options.program}: ${err.message}; shutting down`);
      stop(1);
    });
  });
}
