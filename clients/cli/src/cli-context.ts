/**
 * What every command handler gets: the printer, the control clients (created on first use, so usage
 * errors never need a socket), and the resolved endpoints. Global options: --socket (or
 * AGENTLAB_SOCKET), --artifacts-socket (or AGENTLAB_ARTIFACTS_SOCKET), --output table|json|yaml
 * (--json is an alias for --output json), --timeout.
 */
import type { Command } from "commander";
import { UsageError } from "./cli-errors.js";
import { type ControlClients, createControlClients, createControlTransport } from "./control-clients.js";
import { createPrinter, OUTPUT_FORMATS, type OutputFormat, type Printer } from "./output/output-format.js";

export const DEFAULT_SOCKET = "/run/agentlab/agentlabd.sock";
export const DEFAULT_ARTIFACTS_SOCKET = "/run/agentlab/artifacts.sock";

export interface GlobalOptions {
  socket?: string;
  artifactsSocket?: string;
  output?: string;
  json?: boolean;
  timeout?: string;
  token?: string;
  caFile?: string;
}

export interface CliContext {
  printer: Printer;
  endpoint: string;
  artifactsEndpoint: string;
  /** Per-call timeout for unary RPCs, milliseconds. */
  timeoutMs: number;
  clients(): ControlClients;
  now(): Date;
  stdoutIsTTY: boolean;
  env: NodeJS.ProcessEnv;
}

export function resolveContext(command: Command, env: NodeJS.ProcessEnv = process.env): CliContext {
  const opts = command.optsWithGlobals<GlobalOptions>();
  const format = resolveFormat(opts);
  const endpoint = opts.socket ?? env.AGENTLAB_SOCKET ?? DEFAULT_SOCKET;
  const artifactsEndpoint = opts.artifactsSocket ?? env.AGENTLAB_ARTIFACTS_SOCKET ?? DEFAULT_ARTIFACTS_SOCKET;
  const token = opts.token ?? env.AGENTLAB_TOKEN;
  const caFile = opts.caFile ?? env.AGENTLAB_CA_FILE;
  let clients: ControlClients | undefined;
  return {
    printer: createPrinter(format, process.stdout, env),
    endpoint,
    artifactsEndpoint,
    timeoutMs: parseTimeout(opts.timeout ?? "10m"),
    clients() {
      clients ??= createControlClients(
        createControlTransport(endpoint, {
          ...(token ? { token } : {}),
          ...(caFile ? { caFile } : {}),
        }),
      );
      return clients;
    },
    now: () => new Date(),
    stdoutIsTTY: process.stdout.isTTY === true,
    env,
  };
}

function resolveFormat(opts: GlobalOptions): OutputFormat {
  if (opts.json) {
    if (opts.output && opts.output !== "json") throw new UsageError(`--json conflicts with --output ${opts.output}`);
    return "json";
  }
  const format = (opts.output ?? "table") as OutputFormat;
  if (!OUTPUT_FORMATS.includes(format)) {
    throw new UsageError(`invalid --output ${JSON.stringify(opts.output)}: use one of ${OUTPUT_FORMATS.join(", ")}`);
  }
  return format;
}

function parseTimeout(text: string): number {
  const match = /^(\d+)(ms|s|m|h)?$/.exec(text);
  if (!match) throw new UsageError(`invalid --timeout ${JSON.stringify(text)}: use e.g. 30s, 10m, 1h`);
  const n = Number(match[1]);
  const unit = match[2] ?? "s";
  return n * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const)[unit as "ms" | "s" | "m" | "h"];
}
