import { fileURLToPath } from "node:url";
import { loadProfileDirectory } from "@agentlab/control/profiles/profile-loader";
import { ProfileRegistry } from "@agentlab/control/profiles/profile-registry";
import { describe, expect, it } from "vitest";

const shippedProfilesDir = fileURLToPath(new URL("../../../../deploy/profiles", import.meta.url));

describe("shipped profiles (deploy/profiles)", () => {
  it("all four load with no errors or warnings", async () => {
    const result = await loadProfileDirectory(shippedProfilesDir);
    expect(result.rejected).toEqual([]);
    expect(result.fileProblems).toEqual([]);
    expect(result.profiles.map((p) => [p.name, p.warnings])).toEqual([
      ["interactive-dev", []],
      ["local-ephemeral", []],
      ["yolo-ephemeral", []],
      ["yolo-workspace", []],
    ]);
  });

  it("carry the documented settings", async () => {
    const registry = new ProfileRegistry({ profilesDir: shippedProfilesDir });
    await registry.load();
    expect(registry.list().every((entry) => entry.status === "ok")).toBe(true);
    expect(registry.get("yolo-ephemeral").profile).toMatchObject({
      backend: "proxmox",
      template_vmid: 9000,
      resources: { cores: 4, memory_mb: 6144 },
      network: { bridge: "vmbr1", mode: "nat" },
      behavior: { keepalive_default: false, ttl_minutes_default: 180 },
    });
    expect(registry.get("yolo-workspace").profile).toMatchObject({
      template_vmid: 9000,
      behavior: { keepalive_default: true, ttl_minutes_default: 480 },
    });
    expect(registry.get("interactive-dev").profile).toMatchObject({
      template_vmid: 9000,
      resources: { cores: 6, memory_mb: 8192 },
      behavior: { keepalive_default: true, ttl_minutes_default: 720 },
    });
    expect(registry.get("local-ephemeral").profile).toMatchObject({
      backend: "local",
      resources: { cores: 2, memory_mb: 2048 },
      network: { mode: "none" },
      behavior: { keepalive_default: false, ttl_minutes_default: 60 },
    });
  });
});
