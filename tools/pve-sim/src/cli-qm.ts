import {
  CliOutput,
  type CliResult,
  canonicalJson,
  cliCall,
  normaliseCliBooleans,
  parseArgs,
  printError,
  taskSucceeded,
  waitTaskForeground,
} from "./cli-common.js";
import { pveDie } from "./pve-error.js";
import { configMissing } from "./pve-messages.js";
import type { SimContext } from "./sim-context.js";
import { escapeDescription } from "./vm-config.js";

/** The fake `qm` (reference/proxmox.md §2 table): same handlers as REST, PVE's texts and exit codes. */
interface QmCommand {
  usage: string;
  run(sim: SimContext, pos: string[], opts: Record<string, string>, out: CliOutput): Promise<CliResult>;
}

async function runTask(
  sim: SimContext,
  out: CliOutput,
  method: "POST" | "PUT" | "DELETE",
  path: string,
  params: Record<string, unknown>,
): Promise<CliResult> {
  const upid = String(await cliCall(sim, method, path, params));
  const status = await waitTaskForeground(sim, upid, out);
  return out.result(taskSucceeded(status) ? 0 : 255);
}

const vmPath = (sim: SimContext, vmid: string | undefined): string => `/nodes/${sim.state.node}/qemu/${vmid ?? ""}`;

function pad(text: string, width: number, right = false): string {
  return right ? text.padStart(width) : text.padEnd(width);
}

const QM: Record<string, QmCommand> = {
  clone: {
    usage: "qm clone <vmid> <newid> [OPTIONS]",
    run: (sim, [vmid, newid], opts, out) => runTask(sim, out, "POST", `${vmPath(sim, vmid)}/clone`, { ...opts, newid }),
  },
  start: {
    usage: "qm start <vmid> [OPTIONS]",
    run: (sim, [vmid], opts, out) => runTask(sim, out, "POST", `${vmPath(sim, vmid)}/status/start`, opts),
  },
  stop: {
    usage: "qm stop <vmid> [OPTIONS]",
    run: (sim, [vmid], opts, out) => runTask(sim, out, "POST", `${vmPath(sim, vmid)}/status/stop`, opts),
  },
  shutdown: {
    usage: "qm shutdown <vmid> [OPTIONS]",
    run: (sim, [vmid], opts, out) => runTask(sim, out, "POST", `${vmPath(sim, vmid)}/status/shutdown`, opts),
  },
  destroy: {
    usage: "qm destroy <vmid> [OPTIONS]",
    run: (sim, [vmid], opts, out) => runTask(sim, out, "DELETE", vmPath(sim, vmid), opts),
  },
  snapshot: {
    usage: "qm snapshot <vmid> <snapname> [OPTIONS]",
    run: (sim, [vmid, snapname], opts, out) =>
      runTask(sim, out, "POST", `${vmPath(sim, vmid)}/snapshot`, { ...opts, snapname }),
  },
  rollback: {
    usage: "qm rollback <vmid> <snapname> [OPTIONS]",
    run: (sim, [vmid, snapname], opts, out) =>
      runTask(sim, out, "POST", `${vmPath(sim, vmid)}/snapshot/${snapname}/rollback`, opts),
  },
  delsnapshot: {
    usage: "qm delsnapshot <vmid> <snapname> [OPTIONS]",
    run: (sim, [vmid, snapname], opts, out) =>
      runTask(sim, out, "DELETE", `${vmPath(sim, vmid)}/snapshot/${snapname}`, opts),
  },
  resize: {
    usage: "qm resize <vmid> <disk> <size> [OPTIONS]",
    run: (sim, [vmid, disk, size], opts, out) =>
      runTask(sim, out, "PUT", `${vmPath(sim, vmid)}/resize`, { ...opts, disk, size }),
  },
  status: {
    usage: "qm status <vmid> [OPTIONS]",
    async run(sim, [vmid], opts, out) {
      const status = (await cliCall(sim, "GET", `${vmPath(sim, vmid)}/status/current`, {})) as Record<string, unknown>;
      out.out(`status: ${status.qmpstatus}`);
      if (opts.verbose === "1") {
        for (const key of Object.keys(status).sort()) {
          if (key !== "qmpstatus" && typeof status[key] !== "object") out.out(`${key}: ${status[key]}`);
        }
      }
      return out.result(0);
    },
  },
  config: {
    usage: "qm config <vmid> [OPTIONS]",
    async run(sim, [vmid], opts, out) {
      const config = (await cliCall(sim, "GET", `${vmPath(sim, vmid)}/config`, opts)) as Record<string, unknown>;
      for (const key of Object.keys(config).sort()) {
        if (key === "digest") continue;
        const value = key === "description" ? escapeDescription(String(config[key])) : String(config[key]);
        out.out(`${key}: ${value}`);
      }
      return out.result(0);
    },
  },
  set: {
    usage: "qm set <vmid> [OPTIONS]",
    async run(sim, [vmid], opts, out) {
      const shown = Object.keys(opts)
        .sort()
        .map((key) => `-${key} ${opts[key]}`)
        .join(" ");
      out.out(`update VM ${vmid}: ${shown}`);
      await cliCall(sim, "PUT", `${vmPath(sim, vmid)}/config`, opts);
      return out.result(0);
    },
  },
  unlock: {
    usage: "qm unlock <vmid>",
    async run(sim, [vmid], _opts, out) {
      // Root-only escape hatch for a leaked `lock:` (§1.6): skips the lock check.
      await cliCall(sim, "PUT", `${vmPath(sim, vmid)}/config`, { delete: "lock", skiplock: "1" });
      return out.result(0);
    },
  },
  list: {
    usage: "qm list [OPTIONS]",
    async run(sim, _pos, _opts, out) {
      const vms = (await cliCall(sim, "GET", `/nodes/${sim.state.node}/qemu`, {})) as Array<Record<string, unknown>>;
      if (vms.length === 0) return out.result(0);
      out.out(
        `${pad("VMID", 10, true)} ${pad("NAME", 20)} ${pad("STATUS", 10)} ${pad("MEM(MB)", 10)} ${pad("BOOTDISK(GB)", 12, true)} ${pad("PID", 10)}`,
      );
      for (const vm of vms) {
        const mem = String(Math.floor(Number(vm.maxmem) / 1024 / 1024));
        const disk = (Number(vm.maxdisk) / 1024 ** 3).toFixed(2);
        out.out(
          `${pad(String(vm.vmid), 10, true)} ${pad(String(vm.name ?? ""), 20)} ${pad(String(vm.status), 10)} ${pad(mem, 10)} ${pad(disk, 12, true)} ${pad(String(vm.pid ?? 0), 10)}`,
        );
      }
      return out.result(0);
    },
  },
  listsnapshot: {
    usage: "qm listsnapshot <vmid>",
    async run(sim, [vmid], _opts, out) {
      const snaps = (await cliCall(sim, "GET", `${vmPath(sim, vmid)}/snapshot`, {})) as Array<Record<string, unknown>>;
      for (const snap of snaps) {
        const when =
          snap.snaptime !== undefined
            ? new Date(Number(snap.snaptime) * 1000).toISOString().slice(0, 19).replace("T", " ")
            : "";
        out.out(`\`-> ${pad(String(snap.name), 20)} ${pad(when, 19)} ${snap.description ?? ""}`.trimEnd());
      }
      return out.result(0);
    },
  },
  guest: {
    usage: "qm guest cmd <vmid> <command>",
    async run(sim, [sub, vmid, command], _opts, out) {
      if (sub !== "cmd" || command !== "network-get-interfaces") {
        out.err(`unknown command 'qm guest ${sub ?? ""} ${command ?? ""}'`.trimEnd());
        return out.result(255);
      }
      const data = (await cliCall(sim, "GET", `${vmPath(sim, vmid)}/agent/network-get-interfaces`, {})) as {
        result: unknown;
      };
      // Perl's JSON pretty printer: 3-space indent, sorted keys (§2 qm guest cmd).
      out.out(canonicalJson(data.result, 3));
      return out.result(0);
    },
  },
};

export async function runQm(sim: SimContext, args: string[]): Promise<CliResult> {
  const out = new CliOutput();
  const [sub, ...rest] = args;
  const command = sub ? QM[sub] : undefined;
  if (!command) {
    out.err(`unknown command 'qm ${sub ?? ""}'`.trimEnd());
    out.err("USAGE: qm <COMMAND> [ARGS] [OPTIONS]");
    return out.result(255);
  }
  const { positional, options } = parseArgs(rest);
  try {
    if (sub !== "list" && sub !== "guest" && positional[0] === undefined) {
      throw pveDie(`400 not enough arguments\n${command.usage}`);
    }
    if (sub === "guest" && positional[1] !== undefined && !sim.state.vms.has(Number(positional[1]))) {
      throw pveDie(configMissing(sim.state.node, Number(positional[1])));
    }
    return await command.run(sim, positional, normaliseCliBooleans(options), out);
  } catch (err) {
    return printError(out, err, command.usage);
  }
}
