import type { GuestAddress } from "../../backend.js";

/**
 * Picks the guest's address from a `network-get-interfaces` answer (reference/proxmox.md §1.5, §3).
 * The answer is eventually consistent: first only `lo` and IPv6 link-local, later the IPv4; images
 * with Docker add `docker0` (172.17.0.1) and friends. We match the interface by the MAC of net0,
 * skip loopback, link-local and container bridges, and prefer IPv4.
 */
export interface AgentInterface {
  name?: string;
  "hardware-address"?: string;
  "ip-addresses"?: Array<{ "ip-address"?: string; "ip-address-type"?: string; prefix?: number }>;
}

/** Container and virtual bridges whose addresses are never the guest's own. */
const IGNORED_INTERFACE =
  /^(lo|docker\d*|br-[0-9a-f]+|veth.*|virbr\d*|cni\d*|flannel.*|cali.*|podman\d*|lxcbr\d*|lxdbr\d*|tailscale\d*|zt.*)$/i;

function isUsableIpv4(ip: string): boolean {
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) return false;
  if (ip.startsWith("127.")) return false; // loopback
  if (ip.startsWith("169.254.")) return false; // link-local
  if (ip === "0.0.0.0") return false;
  return true;
}

function isUsableIpv6(ip: string): boolean {
  const lower = ip.toLowerCase();
  if (!lower.includes(":")) return false;
  if (lower === "::1" || lower === "::") return false;
  if (/^fe[89ab][0-9a-f]:/.test(lower)) return false; // fe80::/10 link-local
  return true;
}

export function normaliseMac(mac: string | undefined): string | undefined {
  return mac?.trim().toLowerCase() || undefined;
}

/** Returns an address once an IPv4 is usable; `undefined` means "not yet, keep polling". */
export function selectGuestAddress(
  interfaces: AgentInterface[],
  net0Mac: string | undefined,
): GuestAddress | undefined {
  const wantedMac = normaliseMac(net0Mac);
  const candidates = interfaces.filter((iface) => !IGNORED_INTERFACE.test(iface.name ?? ""));
  const byMac = wantedMac ? candidates.filter((iface) => normaliseMac(iface["hardware-address"]) === wantedMac) : [];
  // Without a MAC match (MAC unknown, or the guest renamed things) fall back to any non-bridge NIC.
  const pool = byMac.length > 0 ? byMac : candidates;
  for (const iface of pool) {
    const addresses = iface["ip-addresses"] ?? [];
    const ipv4 = addresses.find((a) => a["ip-address-type"] === "ipv4" && isUsableIpv4(a["ip-address"] ?? ""));
    if (!ipv4) continue;
    const ipv6 = addresses.find((a) => a["ip-address-type"] === "ipv6" && isUsableIpv6(a["ip-address"] ?? ""));
    const address: GuestAddress = { ipv4: ipv4["ip-address"]! };
    if (ipv6?.["ip-address"]) address.ipv6 = ipv6["ip-address"];
    const mac = normaliseMac(iface["hardware-address"]);
    if (mac) address.mac = mac;
    return address;
  }
  return undefined;
}

/** A short description of what the agent reported, for the timeout message. */
export function describeInterfaces(interfaces: AgentInterface[]): string {
  if (interfaces.length === 0) return "no interfaces";
  return interfaces
    .map((iface) => {
      const ips = (iface["ip-addresses"] ?? []).map((a) => a["ip-address"]).join(",");
      return `${iface.name ?? "?"}(${iface["hardware-address"] ?? "?"})[${ips}]`;
    })
    .join(" ");
}
