import { pveMessages } from "@agentlab/pve-sim";
import { describe, expect, it } from "vitest";
import { errorText } from "../../src/backends/proxmox-api/pve-client.js";
import { createCloneLimiter } from "../../src/backends/proxmox-common/clone-limiter.js";
import { selectGuestAddress } from "../../src/backends/proxmox-common/guest-ip-selector.js";
import { kindOfPveHttp, kindOfPveText } from "../../src/backends/proxmox-common/pve-errors.js";
import { renderCloudConfig, safeJoin, validateHostname } from "../../src/backends/proxmox-common/snippet-writer.js";
import { parseUpid, taskSucceeded } from "../../src/backends/proxmox-common/upid.js";
import {
  buildNet0,
  parseDescriptionMarker,
  renderDescription,
} from "../../src/backends/proxmox-common/vm-config-fields.js";
import { parsePvesmAlloc, parseQmStatus } from "../../src/backends/proxmox-shell/qm-output-parsers.js";

/** Pure functions, fed with the simulator's catalogue of real Proxmox texts (reference/proxmox.md §5.8). */
describe("Proxmox text classification", () => {
  it("classifies the catalogue's texts", () => {
    expect(kindOfPveText(pveMessages.configMissing("pve", 101))).toBe("not_found");
    expect(kindOfPveText(pveMessages.configNotOnNode("pve", 101))).toBe("not_found");
    expect(kindOfPveText(pveMessages.vmLocked("clone"))).toBe("locked");
    expect(kindOfPveText(pveMessages.lockTimeout(pveMessages.vmFlockPath(101)))).toBe("lock_timeout");
    expect(
      kindOfPveText(pveMessages.cloneFailed(pveMessages.lockTimeout(pveMessages.storageFlockPath("local-zfs")))),
    ).toBe("lock_timeout");
    expect(kindOfPveText(pveMessages.cfsLockTimeout("ceph"))).toBe("lock_timeout");
    expect(kindOfPveText(pveMessages.cloneTargetExists(101))).toBe("already_exists");
    expect(kindOfPveText(pveMessages.vmidTaken(101))).toBe("already_exists");
    expect(kindOfPveHttp(596, "Connection timed out")).toBe("unreachable");
    expect(kindOfPveHttp(401, "invalid token value!")).toBe("auth");
    expect(kindOfPveHttp(400, "Parameter verification failed. (name: invalid format)")).toBe("invalid_argument");
  });

  it("reads the message from the reason phrase (8.2) or the body (9), plus the errors map", () => {
    expect(errorText("VM is locked (clone)", { data: null })).toBe("VM is locked (clone)");
    expect(errorText("truncated", { data: null, message: "full text\n" })).toBe("full text");
    expect(errorText("Parameter verification failed.", { data: null, errors: { vmid: "VM 101 already exists" } })).toBe(
      "Parameter verification failed. (vmid: VM 101 already exists)",
    );
  });

  it("parses UPIDs (token users, trailing colon) and WARNINGS exit statuses", () => {
    const upid = parseUpid("UPID:pve2:000A1B2C:0123ABCD:65A1B2C3:qmclone:9000:root@pam!runner:");
    expect(upid).toMatchObject({ node: "pve2", type: "qmclone", id: "9000", user: "root@pam!runner" });
    expect(parseUpid("UPID:pve:1:2:3:qmstart:100:root@pam")).toBeUndefined();
    expect(taskSucceeded("OK")).toBe(true);
    expect(taskSucceeded("WARNINGS: 2")).toBe(true);
    expect(taskSucceeded("clone failed: x")).toBe(false);
  });

  it("parses CLI outputs", () => {
    expect(parsePvesmAlloc(`${pveMessages.pvesmCreated("local-zfs:vm-999-ws")}\n`)).toBe("local-zfs:vm-999-ws");
    expect(parseQmStatus("status: paused\n")).toBe("paused");
  });
});

describe("Proxmox config values", () => {
  it("keeps the clone's MAC in net0 and round-trips the description marker", () => {
    expect(buildNet0("virtio=BC:24:11:AA:BB:CC,bridge=vmbr0,tag=5", { bridge: "vmbr1", firewall: true })).toBe(
      "virtio=BC:24:11:AA:BB:CC,bridge=vmbr1,tag=5,firewall=1",
    );
    // The flag: false clears the template's, undefined keeps it.
    expect(buildNet0("virtio=BC:24:11:AA:BB:CC,bridge=vmbr0,firewall=1", { firewall: false })).toBe(
      "virtio=BC:24:11:AA:BB:CC,bridge=vmbr0",
    );
    expect(buildNet0("virtio=BC:24:11:AA:BB:CC,bridge=vmbr0,firewall=1", {})).toBe(
      "virtio=BC:24:11:AA:BB:CC,bridge=vmbr0,firewall=1",
    );
    const text = renderDescription("job 7\nsecond line", { owner: "agentlab-prod", requestId: "r-1" });
    expect(text).not.toMatch(/\n/);
    expect(parseDescriptionMarker(text)).toEqual({ owner: "agentlab-prod", requestId: "r-1" });
  });

  it("selects the net0 address, skipping loopback, link-local and docker0", () => {
    const ifaces = [
      {
        name: "lo",
        "hardware-address": "00:00:00:00:00:00",
        "ip-addresses": [{ "ip-address": "127.0.0.1", "ip-address-type": "ipv4" }],
      },
      {
        name: "docker0",
        "hardware-address": "02:42:ac:11:00:01",
        "ip-addresses": [{ "ip-address": "172.17.0.1", "ip-address-type": "ipv4" }],
      },
      {
        name: "eth0",
        "hardware-address": "bc:24:11:aa:bb:cc",
        "ip-addresses": [{ "ip-address": "fe80::1", "ip-address-type": "ipv6" }],
      },
    ];
    expect(selectGuestAddress(ifaces, "BC:24:11:AA:BB:CC")).toBeUndefined();
    ifaces[2]!["ip-addresses"].push({ "ip-address": "169.254.3.4", "ip-address-type": "ipv4" });
    expect(selectGuestAddress(ifaces, "BC:24:11:AA:BB:CC")).toBeUndefined();
    ifaces[2]!["ip-addresses"].push({ "ip-address": "10.77.0.12", "ip-address-type": "ipv4" });
    expect(selectGuestAddress(ifaces, "BC:24:11:AA:BB:CC")).toEqual({ ipv4: "10.77.0.12", mac: "bc:24:11:aa:bb:cc" });
  });
});

describe("cloud-init snippets", () => {
  it("validates host names and keeps files inside the directory", () => {
    expect(() => validateHostname("bad_name")).toThrow(/invalid VM host name/);
    expect(() => validateHostname("-x")).toThrow();
    expect(() => safeJoin("/var/lib/vz/snippets", "../etc/passwd")).toThrow(/escapes/);
    const yaml = renderCloudConfig("sandbox-1", '{"token":"t"}', "ssh-ed25519 AAAA test");
    expect(yaml.startsWith("#cloud-config\n")).toBe(true);
    expect(yaml).toContain("name: agent");
    expect(yaml).toContain('permissions: "0600"');
  });
});

describe("clone limiter", () => {
  it("queues beyond the bound and hands slots over in order", async () => {
    const limiter = createCloneLimiter(2);
    const opts = { deadline: Date.now() + 5_000, now: Date.now };
    const a = await limiter.acquire("9000@local-zfs", opts);
    const b = await limiter.acquire("9000@local-zfs", opts);
    let third = false;
    const c = limiter.acquire("9000@local-zfs", opts).then((release) => {
      third = true;
      return release;
    });
    await Promise.resolve();
    expect(third).toBe(false);
    expect(limiter.stats("9000@local-zfs")).toEqual({ active: 2, queued: 1 });
    a();
    (await c)();
    b();
    expect(limiter.stats("9000@local-zfs")).toEqual({ active: 0, queued: 0 });
    const other = await limiter.acquire("9001@local-zfs", opts);
    other();
  });
});
