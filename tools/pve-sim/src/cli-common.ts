import { dispatchApi } from "./api-routes.js";
import { asPveError, type PveError } from "./pve-error.js";
import { taskWarnings } from "./pve-messages.js";
import type { ApiCall, SimContext } from "./sim-context.js";

/**
 * What the fake `qm`/`pvesh`/`pvesm` share (reference/proxmox.md §2, §5.6): PVE-style argv
 * parsing, calls into the same handlers as REST, foreground task waits, and output helpers.
 */
export interface CliResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface ParsedArgs {
  positional: string[];
  options: Record<string, string>;
}

/** `--key value`, `--key=value`, and bare `--flag` (→ `1`) as PVE's CLI accepts them. */
export function parseArgs(args: string[]): ParsedArgs {
  const positional: string[] = [];
  const options: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith("--") && !(arg.startsWith("-") && arg.length > 1 && !/^-\d/.test(arg))) {
      positional.push(arg);
      continue;
    }
    const body = arg.replace(/^--?/, "");
    const eq = body.indexOf("=");
    if (eq >= 0) {
      options[body.slice(0, eq)] = body.slice(eq + 1);
    } else if (i + 1 < args.length && !args[i + 1]!.startsWith("--")) {
      options[body] = args[++i]!;
    } else {
      options[body] = "1";
    }
  }
  return { positional, options };
}

/** PVE CLI booleans accept yes/no/true/false/on/off too; the schema then sees 1/0. */
export function normaliseCliBooleans(options: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(options)) {
    if (/^(true|yes|on)$/i.test(value)) out[key] = "1";
    else if (/^(false|no|off)$/i.test(value)) out[key] = "0";
    else out[key] = value;
  }
  return out;
}

export class CliOutput {
  stdout = "";
  stderr = "";
  out(line: string): void {
    this.stdout += `${line}\n`;
  }
  err(line: string): void {
    this.stderr += `${line}\n`;
  }
  result(exitCode: number): CliResult {
    return { stdout: this.stdout, stderr: this.stderr, exitCode };
  }
}

/** JSON with object keys sorted (pvesh and `qm guest cmd` print canonical JSON). */
export function canonicalJson(value: unknown, indent?: number): string {
  const sortKeys = (_key: string, v: unknown): unknown => {
    if (v && typeof v === "object" && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)));
    }
    return v;
  };
  return JSON.stringify(value, sortKeys, indent);
}

export function cliCall(
  sim: SimContext,
  method: ApiCall["method"],
  path: string,
  params: Record<string, unknown>,
): Promise<unknown> {
  return dispatchApi(sim, { method, path, params, strictForm: true, authId: "root@pam", source: "cli" });
}

/** Prints a handler error like PVE's CLI: 400 with one line per parameter and a usage line. */
export function printError(out: CliOutput, err: unknown, usage: string): CliResult {
  const pve: PveError = asPveError(err);
  if (pve.status === 400 && pve.errors) {
    out.err(`400 ${pve.message}`);
    for (const [param, message] of Object.entries(pve.errors)) out.err(`${param}: ${message}`);
    out.err(usage);
  } else {
    out.err(pve.message.replace(/\n$/, ""));
  }
  return out.result(255);
}

/**
 * Waits for a task in the foreground, printing its log to stdout (§2: CLI tasks run in the
 * foreground). Returns the exit status; WARNINGS add the stderr note.
 */
export async function waitTaskForeground(sim: SimContext, upid: string, out: CliOutput): Promise<string> {
  const task = sim.state.tasks.get(upid);
  if (!task) return "OK";
  await task.done;
  for (const line of task.log) {
    if (/^TASK (OK|ERROR: |WARNINGS: )/.test(line)) continue;
    out.out(line);
  }
  const status = task.exitstatus ?? "unexpected status";
  const warnings = /^WARNINGS: (\d+)$/.exec(status);
  if (warnings) out.err(taskWarnings(Number(warnings[1])));
  else if (status !== "OK") out.err(status);
  return status;
}

export function taskSucceeded(status: string): boolean {
  return status === "OK" || /^WARNINGS: \d+$/.test(status);
}
