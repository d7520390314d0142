import { CliOutput, type CliResult } from "./cli-common.js";
import { runPvesh, runPvesm } from "./cli-pvesh-pvesm.js";
import { runQm } from "./cli-qm.js";
import { cliNotRoot, ipccFailure } from "./pve-messages.js";
import type { SimContext } from "./sim-context.js";

/**
 * Entry for `POST /__sim/cli` (reference/proxmox.md §5.6): `argv[0]` names the tool; refuses
 * non-root callers (configurable) and honours the `cliIpcc` fault before running anything.
 */
export async function runCli(sim: SimContext, argv: string[], uid: number): Promise<CliResult> {
  const [tool, ...args] = argv;
  const entry = {
    seq: sim.state.requests.length + 1,
    time: sim.clock.now(),
    source: "cli" as const,
    method: "CLI",
    path: argv.join(" "),
    params: { argv, uid },
    authId: "root@pam",
    status: 0,
    reason: "",
  };
  sim.state.requests.push(entry);
  const out = new CliOutput();
  let result: CliResult;
  if (sim.options.cliRequireRoot && uid !== 0) {
    out.err(cliNotRoot);
    result = out.result(255);
  } else if (sim.faults.take("cli", { argv }).length > 0) {
    // pmxcfs unreachable (§2): every CLI call fails the same way; retrying is pointless.
    for (let i = 1; i <= 3; i++) out.err(ipccFailure.replace("[1]", `[${i}]`));
    out.err("Unable to load access control list: Unknown error -1");
    result = out.result(255);
  } else if (tool === "qm") {
    result = await runQm(sim, args);
  } else if (tool === "pvesh") {
    result = await runPvesh(sim, args);
  } else if (tool === "pvesm") {
    result = await runPvesm(sim, args);
  } else {
    out.err(`pve-sim: unknown tool '${tool ?? ""}'; expected qm, pvesh or pvesm`);
    result = out.result(127);
  }
  entry.status = result.exitCode;
  return result;
}
