import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { CliResult } from "./cli-common.js";
import type { FaultInjector, FaultRule } from "./fault-injector.js";
import type { ControlHandler } from "./http-front.js";
import type { RequestLogEntry } from "./sim-state.js";
import type { VmSeed } from "./vm-seeding.js";

/**
 * `/__sim/*` (reference/proxmox.md §5.5): test control over HTTP, only with the header
 * `x-pvesim-secret`. Used by the fake CLI and by tests that drive a simulator in another process.
 */
export interface SimControl {
  reset(): Promise<void>;
  state(): Record<string, unknown>;
  faults: FaultInjector;
  advance(ms: number): Promise<void>;
  requests(): RequestLogEntry[];
  seedVm(seed: VmSeed): unknown;
  writeSnippet(volid: string, content: string): void;
  runCli(argv: string[], uid: number): Promise<CliResult>;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

function secretMatches(given: string | string[] | undefined, secret: string): boolean {
  if (typeof given !== "string") return false;
  const a = Buffer.from(given);
  const b = Buffer.from(secret);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function createControlHandler(control: SimControl, secret: string): ControlHandler {
  return async (req: IncomingMessage, res: ServerResponse, body: string, url: URL) => {
    if (!secretMatches(req.headers["x-pvesim-secret"], secret)) {
      send(res, 403, { error: "missing or wrong x-pvesim-secret header; use the cliSecret pve-sim printed at start" });
      return;
    }
    let input: Record<string, unknown> = {};
    try {
      input = body ? (JSON.parse(body) as Record<string, unknown>) : {};
    } catch {
      send(res, 400, { error: `body is not JSON: ${body.slice(0, 80)}` });
      return;
    }
    const route = `${req.method} ${url.pathname}`;
    try {
      switch (route) {
        case "POST /__sim/reset":
          await control.reset();
          return send(res, 200, { ok: true });
        case "GET /__sim/state":
          return send(res, 200, control.state());
        case "GET /__sim/faults":
          return send(res, 200, control.faults.list());
        case "POST /__sim/faults": {
          const rules = Array.isArray(input.rules) ? (input.rules as FaultRule[]) : [input as unknown as FaultRule];
          return send(res, 200, { ids: rules.map((rule) => control.faults.add(rule)) });
        }
        case "DELETE /__sim/faults": {
          const id = url.searchParams.get("id");
          if (id) return send(res, 200, { removed: control.faults.remove(id) });
          control.faults.clear();
          return send(res, 200, { ok: true });
        }
        case "POST /__sim/clock/advance":
          await control.advance(Number(input.ms ?? 0));
          return send(res, 200, { ok: true });
        case "GET /__sim/requests":
          return send(res, 200, control.requests());
        case "POST /__sim/vms":
          return send(res, 200, control.seedVm(input as unknown as VmSeed));
        case "POST /__sim/snippets":
          control.writeSnippet(String(input.volid), String(input.content ?? ""));
          return send(res, 200, { ok: true });
        case "POST /__sim/cli": {
          const argv = Array.isArray(input.argv) ? input.argv.map(String) : [];
          return send(res, 200, await control.runCli(argv, Number(input.uid ?? 0)));
        }
        default:
          return send(res, 404, { error: `unknown control endpoint ${route}` });
      }
    } catch (err) {
      send(res, 400, { error: err instanceof Error ? err.message : String(err) });
    }
  };
}
