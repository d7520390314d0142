import { isHostMountKey } from "@agentlab/control/profiles/host-mount-check";
import { parseProfileFile } from "@agentlab/control/profiles/profile-loader";
import { artifactRetentionMinutes } from "@agentlab/control/profiles/profile-schema";
import { describe, expect, it } from "vitest";
import { yaml } from "./temp-profiles-dir.js";

function parseOne(text: string) {
  const [document] = parseProfileFile("/p/test.yaml", text, new Date(0));
  if (!document) throw new Error("no document");
  return document;
}

function errorsOf(text: string) {
  const document = parseOne(text);
  return "errors" in document ? document.errors : [];
}

function profileOf(text: string) {
  const document = parseOne(text);
  if (!("profile" in document)) throw new Error(`invalid: ${JSON.stringify(document.errors)}`);
  return document.profile;
}

describe("unknown keys", () => {
  it("warn with the closest known key at that level, and the profile still loads", () => {
    const document = parseOne(yaml`
      name: typo
      template_vmid: 9000
      resources:
        core: 2
        memroy_mb: 1024
      behaviour:
        keepalive_default: true
      network:
        frewall: true
    `);
    expect("profile" in document).toBe(true);
    expect(document.warnings.map((w) => [w.key, w.line, w.hint])).toEqual([
      ["resources.core", 4, "did you mean resources.cores?"],
      ["resources.memroy_mb", 5, "did you mean resources.memory_mb?"],
      ["behaviour", 6, "did you mean behavior?"],
      ["network.frewall", 9, "did you mean network.firewall?"],
    ]);
  });

  it("list the known keys when nothing is close", () => {
    const document = parseOne("name: x\ntemplate_vmid: 9000\nzzz: 1\n");
    expect(document.warnings[0]?.hint).toContain("known keys here: name, backend");
  });

  it("warn that Proxmox-only keys are ignored on a local profile", () => {
    const document = parseOne(yaml`
      name: here
      backend: local
      template_vmid: 9000
      network:
        bridge: vmbr1
        mode: host
    `);
    expect("profile" in document && document.profile).toMatchObject({ backend: "local", network: { mode: "host" } });
    expect(document.warnings.map((w) => [w.key, w.line])).toEqual([
      ["template_vmid", 3],
      ["network.bridge", 5],
    ]);
    expect(document.warnings[0]?.message).toContain("ignored for backend local");
  });
});

describe("host mounts", () => {
  it.each([
    "host_mount",
    "host_mounts",
    "host_path",
    "host_paths",
    "bind_mount",
    "bind_mounts",
    "binds",
    "mounts",
    "mount_points",
    "mountpoints",
    "virtiofs",
    "virtio_fs",
    "hostDir_bind",
    "extra-host-paths",
    "bindMountSource",
    "HostMount",
  ])("%s is a host-mount key", (key) => {
    expect(isHostMountKey(key)).toBe(true);
  });

  it.each(["hostname", "memory_mb", "firewall_group", "workspace_storage", "binding"])("%s is not", (key) => {
    expect(isHostMountKey(key)).toBe(false);
  });

  it("are rejected at any depth, through sequences, with every dotted path listed", () => {
    const errors = errorsOf(yaml`
      name: escape
      template_vmid: 9000
      storage:
        extra:
          - size_gb: 10
            host_path: /etc
      network:
        virtiofs: /srv
    `);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ key: "storage.extra[0].host_path", line: 6 });
    expect(errors[0]?.message).toContain("storage.extra[0].host_path (line 6)");
    expect(errors[0]?.message).toContain("network.virtiofs (line 8)");
  });

  it("are rejected on local profiles too and are not also reported as unknown keys", () => {
    const document = parseOne("name: here\nbackend: local\nmounts:\n  - /home\n");
    expect("errors" in document && document.errors[0]?.key).toBe("mounts");
    expect(document.warnings).toEqual([]);
  });
});

describe("schema rules", () => {
  it("fills defaults for a minimal proxmox profile", () => {
    expect(profileOf("name: min\ntemplate_vmid: 100\n")).toEqual({
      name: "min",
      backend: "proxmox",
      template_vmid: 100,
      resources: {},
      network: { bridge: "vmbr1", model: "virtio" },
      storage: { scsihw: "virtio-scsi-pci" },
      behavior: {},
      artifacts: {},
    });
  });

  it("requires template_vmid for proxmox and points at the document", () => {
    expect(errorsOf("\n\nname: none\n")).toEqual([
      expect.objectContaining({ key: "template_vmid", line: 3, message: expect.stringContaining("is required") }),
    ]);
  });

  it.each([
    ["name: Big\ntemplate_vmid: 9000\n", "name", 1],
    ["name: -dash\ntemplate_vmid: 9000\n", "name", 1],
    [`name: ${"a".repeat(64)}\ntemplate_vmid: 9000\n`, "name", 1],
    ["name: ok\ntemplate_vmid: 99\n", "template_vmid", 2],
    ["name: ok\ntemplate_vmid: 9000.5\n", "template_vmid", 2],
    ["name: ok\ntemplate_vmid: 9000\nresources:\n  memory_mb: 32\n", "resources.memory_mb", 4],
    ["name: ok\ntemplate_vmid: 9000\nbehavior:\n  keepalive_default: maybe\n", "behavior.keepalive_default", 4],
    ["name: ok\ntemplate_vmid: 9000\nbehavior:\n  max_active: 0\n", "behavior.max_active", 4],
    ["name: ok\ntemplate_vmid: 9000\nsecrets_bundle: Prod.Keys\n", "secrets_bundle", 3],
    ["name: ok\ntemplate_vmid: 9000\nagent:\n  command: [claude, -p]\n", "agent.command", 4],
    ["name: ok\ntemplate_vmid: 9000\nartifacts:\n  retention_days: -1\n", "artifacts.retention_days", 4],
    ["name: ok\ntemplate_vmid: 9000\nnetwork:\n  mode: none\n", "network.mode", 4],
    ["name: ok\nbackend: local\nnetwork:\n  mode: nat\n", "network.mode", 4],
    ["name: ok\nbackend: docker\n", "backend", 2],
  ])("rejects %j at %s", (text, key, line) => {
    expect(errorsOf(text)).toEqual([expect.objectContaining({ key, line })]);
  });

  it("rejects a firewall group that contradicts the mode", () => {
    const errors = errorsOf("name: n\ntemplate_vmid: 9000\nnetwork:\n  mode: nat\n  firewall_group: agent_nat_off\n");
    expect(errors).toEqual([expect.objectContaining({ key: "network.firewall_group", line: 5 })]);
    expect(errors[0]?.message).toContain("agent_nat_default");
  });

  it("rejects firewall: false with a group, and with a mode", () => {
    expect(errorsOf("name: n\ntemplate_vmid: 9000\nnetwork:\n  firewall: false\n  firewall_group: g1\n")).toEqual([
      expect.objectContaining({ key: "network.firewall", line: 4 }),
    ]);
    expect(errorsOf("name: n\ntemplate_vmid: 9000\nnetwork:\n  firewall: false\n  mode: allowlist\n")).toEqual([
      expect.objectContaining({ key: "network.firewall", line: 4 }),
    ]);
  });

  it("accepts the mode's own group", () => {
    const profile = profileOf(
      "name: n\ntemplate_vmid: 9000\nnetwork:\n  mode: allowlist\n  firewall_group: agent_nat_allowlist\n",
    );
    expect(profile.backend === "proxmox" && profile.network.firewall_group).toBe("agent_nat_allowlist");
  });

  it("keeps the agent command as one string", () => {
    const profile = profileOf('name: n\ntemplate_vmid: 9000\nagent:\n  command: claude -p "$AGENTLAB_TASK"\n');
    expect(profile.agent?.command).toBe('claude -p "$AGENTLAB_TASK"');
  });

  it("reports several errors of one document at their own lines", () => {
    const errors = errorsOf("name: n\ntemplate_vmid: 1\nresources:\n  cores: 0\n");
    expect(errors.map((e) => [e.key, e.line])).toEqual([
      ["template_vmid", 2],
      ["resources.cores", 4],
    ]);
  });
});

describe("artifact retention", () => {
  it("takes the first present of minutes, hours, days; 0 or absent keeps forever", () => {
    expect(artifactRetentionMinutes(profileOf("name: a\ntemplate_vmid: 9000\n"))).toBeUndefined();
    expect(artifactRetentionMinutes(profileOf("name: a\ntemplate_vmid: 9000\nartifacts:\n  retention_days: 2\n"))).toBe(
      2880,
    );
    expect(
      artifactRetentionMinutes(profileOf("name: a\ntemplate_vmid: 9000\nartifacts:\n  retention_hours: 3\n")),
    ).toBe(180);
    const both = "name: a\ntemplate_vmid: 9000\nartifacts:\n  retention_days: 2\n  retention_minutes: 0\n";
    expect(artifactRetentionMinutes(profileOf(both))).toBeUndefined();
    expect(parseOne(both).warnings).toEqual([expect.objectContaining({ key: "artifacts.retention_days", line: 4 })]);
  });
});
