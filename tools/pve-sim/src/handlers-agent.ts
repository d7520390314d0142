import { pveDie } from "./pve-error.js";
import { agentNotConfigured, agentNotRunning, vmNotRunning } from "./pve-messages.js";
import type { HandlerArgs } from "./sim-context.js";
import { assertNode, getVm } from "./vm-access.js";
import { macOfNet } from "./vm-config.js";

/**
 * GET …/agent/network-get-interfaces (reference/proxmox.md §1.5, §3 guest agent): not configured /
 * not running / agent not answering (after the guest-ping timeout) / only `lo` and IPv6
 * link-local / then eth0 with net0's MAC and an IPv4 from 198.51.100.0/24.
 */
interface GuestInterface {
  name: string;
  "hardware-address": string;
  "ip-addresses": Array<{ "ip-address": string; "ip-address-type": "ipv4" | "ipv6"; prefix: number }>;
  statistics: Record<string, number>;
}

const statistics = (): Record<string, number> => ({
  "rx-bytes": 123_456,
  "rx-dropped": 0,
  "rx-errs": 0,
  "rx-packets": 890,
  "tx-bytes": 65_432,
  "tx-dropped": 0,
  "tx-errs": 0,
  "tx-packets": 456,
});

/** The EUI-64 IPv6 link-local address of a MAC (what a fresh guest shows first). */
export function linkLocalOf(mac: string): string {
  const b = mac.split(":").map((h) => Number.parseInt(h, 16));
  const first = (b[0]! ^ 0x02).toString(16).padStart(2, "0");
  const hex = (x: number): string => x.toString(16).padStart(2, "0");
  const groups = [`${first}${hex(b[1]!)}`, `${hex(b[2]!)}ff`, `fe${hex(b[3]!)}`, `${hex(b[4]!)}${hex(b[5]!)}`];
  return `fe80::${groups.map((g) => g.replace(/^0+(?=.)/, "")).join(":")}`;
}

export function agentEnabled(agent: string | undefined): boolean {
  return /^(1|enabled=1)(,|$)/.test(agent ?? "");
}

export async function getNetworkInterfaces({ sim, call, params }: HandlerArgs): Promise<unknown> {
  assertNode(sim, params.node);
  const vmid = Number(params.vmid);
  const vm = getVm(sim, vmid);
  if (!agentEnabled(vm.config.get("agent"))) throw pveDie(agentNotConfigured);
  if (vm.runState === "stopped" || vm.bootedAt === undefined) throw pveDie(vmNotRunning(vmid));
  let never = !vm.agent.installed;
  let noIpv4 = vm.agent.noIpv4 === true;
  let lateMs = 0;
  for (const effect of sim.faults.take("agent", { method: call.method, path: call.path, vmids: [vmid] })) {
    if (effect.type === "agentNever") never = true;
    else if (effect.type === "noIpv4") noIpv4 = true;
    else if (effect.type === "ipLate") lateMs += sim.scaled(effect.ms);
  }
  const readyAt =
    vm.bootedAt + (vm.agent.readyAfterMs !== undefined ? sim.scaled(vm.agent.readyAfterMs) : sim.ms("agentReady"));
  if (never || sim.clock.now() < readyAt) {
    // qemu-server pings the agent first and gives up after the guest-ping timeout.
    await sim.clock.sleep(sim.ms("agentPingTimeout"));
    throw pveDie(agentNotRunning);
  }
  const ipAt =
    readyAt + (vm.agent.ipv4AfterMs !== undefined ? sim.scaled(vm.agent.ipv4AfterMs) : sim.ms("ipv4After")) + lateMs;
  const mac = (macOfNet(vm.config.get("net0")) ?? "BC:24:11:00:00:01").toLowerCase();
  const result: GuestInterface[] = [
    {
      name: "lo",
      "hardware-address": "00:00:00:00:00:00",
      "ip-addresses": [
        { "ip-address": "127.0.0.1", "ip-address-type": "ipv4", prefix: 8 },
        { "ip-address": "::1", "ip-address-type": "ipv6", prefix: 128 },
      ],
      statistics: statistics(),
    },
  ];
  const eth0: GuestInterface = {
    name: "eth0",
    "hardware-address": mac,
    "ip-addresses": [{ "ip-address": linkLocalOf(mac), "ip-address-type": "ipv6", prefix: 64 }],
    statistics: statistics(),
  };
  if (!noIpv4 && sim.clock.now() >= ipAt) {
    eth0["ip-addresses"].unshift({ "ip-address": vm.ipv4, "ip-address-type": "ipv4", prefix: 24 });
  }
  result.push(eth0);
  if (vm.agent.docker0) {
    result.push({
      name: "docker0",
      "hardware-address": "02:42:ac:11:00:01",
      "ip-addresses": [{ "ip-address": "172.17.0.1", "ip-address-type": "ipv4", prefix: 16 }],
      statistics: statistics(),
    });
  }
  return { result };
}
