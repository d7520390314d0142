import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasTool, isRoot } from "./has-tool.js";
import { NetnsLab } from "./netns-lab.js";

// A Proxmox host in miniature, all inside namespaces this test creates:
//
//   guest (10.77.0.2) ── veth ── [agent bridge] host [uplink bridge] ─┬─ veth ── wan (198.18.0.2)
//                                  10.77.0.1        198.18.0.1       └─ veth ── lan (192.168.77.2)
//                                                   192.168.77.1
//
// The LAN sits behind the uplink like a real office network does, so only the private-range rule
// (not "wrong interface") can keep a guest away from it. 198.18.0.0/15 (benchmarking range, not a
// private one) stands in for the internet. No packet leaves these namespaces.

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const setupScript = join(root, "deploy/net/setup-agent-bridge.sh");
const missing = !hasTool("ip")
  ? "ip is not installed (Debian package iproute2)"
  : !hasTool("nft")
    ? "nft is not installed (Debian package nftables)"
    : !isRoot()
      ? "network namespaces need root"
      : undefined;

const lab = new NetnsLab();
const bridge = `albr${lab.suffix}`;
const uplink = `alup${lab.suffix}`;
let host = "";
let guest = "";
let lan = "";
let wan = "";

function wire(a: string, aName: string, b: string, bName: string): void {
  // Created directly inside the namespaces: the host's own namespace never sees these links.
  lab.exec(a, "ip", ["link", "add", aName, "type", "veth", "peer", "name", bName, "netns", b]);
  lab.exec(a, "ip", ["link", "set", aName, "up"]);
  lab.exec(b, "ip", ["link", "set", bName, "up"]);
}

function applyRuleset(): void {
  lab.exec(host, "sh", [setupScript, "--runtime-only"], {
    ...process.env,
    AGENT_BRIDGE: bridge,
    AGENT_HOST_CIDR: "10.77.0.1/24",
    AGENT_SUBNET: "10.77.0.0/24",
    UPLINK: uplink,
  });
}

describe.skipIf(missing !== undefined)(`guest network isolation ${missing ? `(skipped: ${missing})` : ""}`, () => {
  beforeAll(async () => {
    host = lab.addNamespace("host");
    guest = lab.addNamespace("guest");
    lan = lab.addNamespace("lan");
    wan = lab.addNamespace("wan");

    lab.exec(host, "ip", ["link", "add", bridge, "type", "bridge"]);
    lab.exec(host, "ip", ["addr", "add", "10.77.0.1/24", "dev", bridge]);
    lab.exec(host, "ip", ["link", "set", bridge, "up"]);
    lab.exec(host, "ip", ["link", "add", uplink, "type", "bridge"]);
    lab.exec(host, "ip", ["addr", "add", "198.18.0.1/24", "dev", uplink]);
    lab.exec(host, "ip", ["addr", "add", "192.168.77.1/24", "dev", uplink]);
    lab.exec(host, "ip", ["link", "set", uplink, "up"]);
    lab.exec(host, "sysctl", ["-q", "-w", "net.ipv4.ip_forward=1"]);

    wire(host, "gp", guest, "eth0");
    lab.exec(host, "ip", ["link", "set", "gp", "master", bridge]);
    lab.exec(guest, "ip", ["addr", "add", "10.77.0.2/24", "dev", "eth0"]);
    lab.exec(guest, "ip", ["route", "add", "default", "via", "10.77.0.1"]);

    wire(host, "wp", wan, "eth0");
    lab.exec(host, "ip", ["link", "set", "wp", "master", uplink]);
    lab.exec(wan, "ip", ["addr", "add", "198.18.0.2/24", "dev", "eth0"]);
    // Only for the baseline: without NAT the wan side must be able to answer 10.77.0.2.
    lab.exec(wan, "ip", ["route", "add", "10.77.0.0/24", "via", "198.18.0.1"]);

    wire(host, "lp", lan, "eth0");
    lab.exec(host, "ip", ["link", "set", "lp", "master", uplink]);
    lab.exec(lan, "ip", ["addr", "add", "192.168.77.2/24", "dev", "eth0"]);
    lab.exec(lan, "ip", ["route", "add", "default", "via", "192.168.77.1"]);

    await lab.listen(host, [8844, 8846, 8006, 22]);
    await lab.listen(lan, [8080]);
    await lab.listen(wan, [8080]);
    await lab.listen(guest, [9000]);
  });

  afterAll(async () => {
    await lab.destroy();
  });

  it("baseline without the ruleset: every path is open, so the checks below test the rules", () => {
    expect(lab.connect(guest, "10.77.0.1", 8006).connected).toBe(true);
    expect(lab.connect(guest, "10.77.0.1", 22).connected).toBe(true);
    expect(lab.connect(guest, "192.168.77.2", 8080)).toEqual({ connected: true, seenAs: "10.77.0.2" });
    expect(lab.connect(guest, "198.18.0.2", 8080)).toEqual({ connected: true, seenAs: "10.77.0.2" });
    expect(lab.connect(wan, "10.77.0.2", 9000).connected).toBe(true);
  });

  it("setup-agent-bridge.sh --runtime-only loads the ruleset, and running it again changes nothing", () => {
    applyRuleset();
    const first = lab.exec(host, "nft", ["list", "table", "inet", "agentlab"]);
    applyRuleset();
    const second = lab.exec(host, "nft", ["list", "table", "inet", "agentlab"]);
    expect(second.replace(/packets \d+ bytes \d+/g, "")).toBe(first.replace(/packets \d+ bytes \d+/g, ""));
    expect(lab.exec(host, "nft", ["list", "tables"]).match(/inet agentlab/g)).toHaveLength(1);
    expect(lab.exec(host, "ip", ["-4", "addr", "show", "dev", bridge]).match(/inet 10\.77\.0\.1\/24/g)).toHaveLength(1);
  });

  it("guests reach the bootstrap and artifact ports on the host", () => {
    expect(lab.connect(guest, "10.77.0.1", 8844)).toEqual({ connected: true, seenAs: "10.77.0.2" });
    expect(lab.connect(guest, "10.77.0.1", 8846)).toEqual({ connected: true, seenAs: "10.77.0.2" });
  });

  it("guests cannot reach the Proxmox API or SSH on the host", () => {
    for (const port of [8006, 22]) {
      const attempt = lab.connect(guest, "10.77.0.1", port);
      expect(attempt.connected, `port ${port}`).toBe(false);
    }
  });

  it("guests cannot reach a private LAN address behind the uplink", () => {
    expect(lab.connect(guest, "192.168.77.2", 8080).connected).toBe(false);
  });

  it("guests reach the internet through the uplink, masqueraded as the host", () => {
    expect(lab.connect(guest, "198.18.0.2", 8080)).toEqual({ connected: true, seenAs: "198.18.0.1" });
  });

  it("nothing outside opens a connection into a sandbox", () => {
    expect(lab.connect(wan, "10.77.0.2", 9000).connected).toBe(false);
  });

  // Both the ruleset (ip saddr != agent_subnet) and rp_filter on the bridge refuse this; either suffices.
  it("a guest spoofing a source outside the agent subnet is dropped", () => {
    lab.exec(guest, "ip", ["addr", "add", "10.99.0.2/32", "dev", "eth0"]);
    try {
      // Bound to the spoofed address via the route's preferred source.
      lab.exec(guest, "ip", ["route", "add", "198.18.0.2/32", "via", "10.77.0.1", "src", "10.99.0.2"]);
      expect(lab.connect(guest, "198.18.0.2", 8080).connected).toBe(false);
    } finally {
      lab.exec(guest, "ip", ["route", "del", "198.18.0.2/32"]);
      lab.exec(guest, "ip", ["addr", "del", "10.99.0.2/32", "dev", "eth0"]);
    }
  });
});
