import { execFile } from "node:child_process";
import type { CallContext } from "../../backend.js";
import { BackendError, type BackendErrorKind } from "../../backend-errors.js";
import { isIpccFailure, kindOfPveText, pveError } from "../proxmox-common/pve-errors.js";
import { errorTextFromStderr } from "./qm-output-parsers.js";

/**
 * Runs `qm`, `pvesh` and `pvesm` with argv arrays — never a shell string (agentlab-reference.md §8
 * item 8: the original joined arguments into `bash -c`). Control characters in any argument are
 * refused before anything runs. Failures are classified from stderr (reference/proxmox.md §2: match
 * on the text, not on the exact exit code).
 */
export interface SpawnResult {
  stdout: string;
  stderr: string;
  exitCode: number;
  /** Killed because it ran past its timeout. */
  timedOut: boolean;
}

/** Injected so tests (and exotic hosts) can replace process spawning. */
export type Spawner = (
  file: string,
  args: string[],
  options: { timeoutMs: number; env?: Record<string, string | undefined>; signal?: AbortSignal },
) => Promise<SpawnResult>;

export const execFileSpawner: Spawner = (file, args, options) =>
  new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      {
        timeout: options.timeoutMs,
        killSignal: "SIGKILL",
        maxBuffer: 16 * 1024 * 1024,
        encoding: "utf8",
        ...(options.env ? { env: options.env } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      },
      (error, stdout, stderr) => {
        if (!error) {
          resolve({ stdout, stderr, exitCode: 0, timedOut: false });
          return;
        }
        const e = error as NodeJS.ErrnoException & { code?: string | number; killed?: boolean; signal?: string };
        if (typeof e.code === "string" && (e.code === "ENOENT" || e.code === "EACCES")) {
          reject(e);
          return;
        }
        resolve({
          stdout,
          stderr,
          exitCode: typeof e.code === "number" ? e.code : 255,
          timedOut: e.killed === true && e.signal === "SIGKILL",
        });
      },
    );
  });

export interface CommandRunnerOptions {
  /** `proxmox_command_timeout`, default 120 s per command (agentlab-reference.md §4.1: 2m). */
  commandTimeoutMs?: number;
  /** Paths of the tools (default: looked up on PATH). */
  commands?: { qm?: string; pvesh?: string; pvesm?: string };
  env?: Record<string, string | undefined>;
  spawner?: Spawner;
  now: () => number;
}

export type Tool = "qm" | "pvesh" | "pvesm";

export interface CommandRunner {
  /** Runs the tool; resolves with stdout on exit 0, throws a classified BackendError otherwise. */
  run(ctx: CallContext, tool: Tool, args: string[], opts?: { task?: boolean; vmid?: number }): Promise<string>;
}

const CONTROL_CHARS = /[\x00-\x1f\x7f]/;

export function assertSafeArgs(args: string[]): void {
  for (const arg of args) {
    if (CONTROL_CHARS.test(arg)) {
      throw new BackendError(
        "invalid_argument",
        `refusing to pass an argument with control characters to the Proxmox CLI: ${JSON.stringify(arg)}`,
        {
          hint: "remove newlines/tabs/escape characters from names, descriptions and keys",
        },
      );
    }
  }
}

export function createCommandRunner(options: CommandRunnerOptions): CommandRunner {
  const spawner = options.spawner ?? execFileSpawner;
  const timeoutMs = options.commandTimeoutMs ?? 120_000;
  return {
    async run(ctx, tool, args, opts = {}) {
      assertSafeArgs(args);
      const file = options.commands?.[tool] ?? tool;
      const shown = `${tool} ${args.slice(0, 3).join(" ")}${args.length > 3 ? " …" : ""}`;
      const left = ctx.deadline - options.now();
      if (left <= 0) throw new BackendError("deadline", `${shown}: deadline passed before it ran`);
      let result: SpawnResult;
      try {
        result = await spawner(file, args, {
          timeoutMs: Math.min(timeoutMs, left),
          ...(options.env ? { env: options.env } : {}),
          ...(ctx.signal ? { signal: ctx.signal } : {}),
        });
      } catch (err) {
        throw new BackendError(
          "unavailable",
          `cannot run ${file}: ${(err as Error).message}`,
          {
            hint: "the shell backend must run as root on the Proxmox node itself (qm/pvesh/pvesm on PATH)",
          },
          { cause: err },
        );
      }
      if (result.timedOut) {
        throw new BackendError(
          left < timeoutMs ? "deadline" : "unreachable",
          `${shown} did not finish within ${Math.min(timeoutMs, left)} ms`,
          {
            ...(opts.vmid !== undefined ? { vmid: opts.vmid } : {}),
            hint: "raise proxmox_command_timeout, or look for a stuck task on the node (Datacenter → Tasks)",
          },
        );
      }
      if (result.exitCode === 0) return result.stdout;
      const text = errorTextFromStderr(result.stderr) || `exit status ${result.exitCode} and no message`;
      if (isIpccFailure(text)) {
        // §2: the CLI cannot reach pmxcfs. Retrying is pointless.
        throw new BackendError(
          "unavailable",
          `${shown}: host misconfigured (systemd NoNewPrivileges/PrivateTmp?): ${text}`,
          {
            hint: "remove NoNewPrivileges=, PrivateTmp= and ProtectSystem= from the runner's systemd unit, and check that pve-cluster is running",
          },
        );
      }
      if (/please run as root|permission denied|only root can/i.test(text)) {
        throw new BackendError("auth", `${shown}: ${text}`, {
          hint: "the shell backend must run as root on the Proxmox node",
        });
      }
      let kind: BackendErrorKind = kindOfPveText(text) ?? (opts.task ? "task_failed" : "internal");
      if (kind === "internal" && /^400 |Parameter verification failed/m.test(result.stderr)) kind = "invalid_argument";
      throw pveError(kind, `${shown} failed`, text, opts.vmid !== undefined ? { vmid: opts.vmid } : {});
    },
  };
}
