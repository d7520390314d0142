import { findRoute } from "./api-routes.js";
import {
  CliOutput,
  type CliResult,
  canonicalJson,
  cliCall,
  normaliseCliBooleans,
  parseArgs,
  printError,
  waitTaskForeground,
} from "./cli-common.js";
import { pveshNoHandler, pvesmCreated } from "./pve-messages.js";
import type { ApiCall, SimContext } from "./sim-context.js";
import { parseUpid } from "./upid.js";

/** The fake `pvesh` and `pvesm` (reference/proxmox.md §2). */
const PVESH_METHODS: Record<string, ApiCall["method"]> = { get: "GET", create: "POST", set: "PUT", delete: "DELETE" };

export async function runPvesh(sim: SimContext, args: string[]): Promise<CliResult> {
  const out = new CliOutput();
  const [cmd, rawPath, ...rest] = args;
  const method = cmd ? PVESH_METHODS[cmd] : undefined;
  if (!method || !rawPath) {
    out.err(`unknown command 'pvesh ${cmd ?? ""}'`.trimEnd());
    out.err("USAGE: pvesh <COMMAND> [ARGS] [OPTIONS]");
    return out.result(255);
  }
  const path = `/${rawPath.replace(/^\/+/, "").replace(/\/+$/, "")}`;
  const { options } = parseArgs(rest);
  const format = options["output-format"] ?? "text";
  delete options["output-format"];
  delete options.noproxy;
  delete options["human-readable"];
  delete options.quiet;
  if (!findRoute(method, path)) {
    out.err(pveshNoHandler(cmd!, path));
    return out.result(255);
  }
  try {
    const data = await cliCall(sim, method, path, normaliseCliBooleans(options));
    if (method !== "GET" && typeof data === "string" && parseUpid(data) && sim.state.tasks.has(data)) {
      // pvesh runs the worker in the foreground but exits 0 even when it failed (§2, rule 10).
      await waitTaskForeground(sim, data, out);
      out.out(data);
      return out.result(0);
    }
    if (data === null || data === undefined) return out.result(0);
    if (format === "json") out.out(canonicalJson(data));
    else if (typeof data === "string" || typeof data === "number") out.out(String(data));
    else out.out(canonicalJson(data, 3));
    return out.result(0);
  } catch (err) {
    return printError(out, err, `pvesh ${cmd} ${path} [OPTIONS]`);
  }
}

function pvesmStatus(sim: SimContext, storageId: string | undefined, out: CliOutput): CliResult {
  out.out(
    `${"Name".padEnd(20)} ${"Type".padStart(10)} ${"Status".padStart(10)} ${"Total".padStart(15)} ${"Used".padStart(15)} ${"Available".padStart(15)} ${"%".padStart(8)}`,
  );
  for (const s of sim.state.storages.values()) {
    if (storageId && s.id !== storageId) continue;
    const used = [...s.volumes.values()].reduce((sum, v) => sum + v.sizeBytes, 0);
    const kib = (bytes: number): string => String(Math.floor(bytes / 1024));
    out.out(
      `${s.id.padEnd(20)} ${s.type.padStart(10)} ${"active".padStart(10)} ${kib(s.totalBytes).padStart(15)} ${kib(used).padStart(15)} ${kib(s.totalBytes - used).padStart(15)} ${`${((used / s.totalBytes) * 100).toFixed(2)}%`.padStart(8)}`,
    );
  }
  return out.result(0);
}

export async function runPvesm(sim: SimContext, args: string[]): Promise<CliResult> {
  const out = new CliOutput();
  const [cmd, ...rest] = args;
  const { positional, options } = parseArgs(rest);
  const node = sim.state.node;
  try {
    switch (cmd) {
      case "alloc": {
        const [storage, vmid, filename, size] = positional;
        const volid = await cliCall(sim, "POST", `/nodes/${node}/storage/${storage}/content`, {
          ...options,
          vmid,
          filename,
          size,
        });
        out.out(pvesmCreated(String(volid)));
        return out.result(0);
      }
      case "free": {
        const [volid = ""] = positional;
        const storage = volid.split(":")[0];
        const upid = String(
          await cliCall(sim, "DELETE", `/nodes/${node}/storage/${storage}/content/${encodeURIComponent(volid)}`, {}),
        );
        await waitTaskForeground(sim, upid, out);
        return out.result(sim.state.tasks.get(upid)?.exitstatus === "OK" ? 0 : 255);
      }
      case "status":
        return pvesmStatus(sim, options.storage, out);
      case "list": {
        const [storage] = positional;
        const volumes = (await cliCall(sim, "GET", `/nodes/${node}/storage/${storage}/content`, {})) as Array<
          Record<string, unknown>
        >;
        out.out(`${"Volid".padEnd(40)} ${"Format".padEnd(6)} ${"Type".padEnd(10)} ${"Size".padStart(12)} VMID`);
        for (const v of volumes) {
          out.out(
            `${String(v.volid).padEnd(40)} ${String(v.format).padEnd(6)} ${String(v.content).padEnd(10)} ${String(v.size).padStart(12)} ${v.vmid}`,
          );
        }
        return out.result(0);
      }
      default:
        out.err(`unknown command 'pvesm ${cmd ?? ""}'`.trimEnd());
        out.err("USAGE: pvesm <COMMAND> [ARGS] [OPTIONS]");
        return out.result(255);
    }
  } catch (err) {
    return printError(out, err, `pvesm ${cmd} [ARGS] [OPTIONS]`);
  }
}
