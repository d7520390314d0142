import { ProfileInvalidError, ProfileNotFoundError } from "@agentlab/control/profiles/profile-errors";
import { ProfileRegistry, type ProfileRegistryChange } from "@agentlab/control/profiles/profile-registry";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTempProfilesDir, type TempProfilesDir } from "./temp-profiles-dir.js";

let dir: TempProfilesDir;
let logged: string[];
let registry: ProfileRegistry;

beforeEach(async () => {
  dir = await createTempProfilesDir();
  logged = [];
  registry = new ProfileRegistry({
    profilesDir: dir.path,
    logger: { warn: (m) => logged.push(`warn ${m}`), error: (m) => logged.push(`error ${m}`) },
    now: () => new Date("2026-01-01T00:00:00.000Z"),
  });
});
afterEach(async () => {
  await dir.remove();
});

const good = (name: string, cores: number) => `name: ${name}\ntemplate_vmid: 9000\nresources:\n  cores: ${cores}\n`;

function entry(name: string) {
  return registry.list().find((e) => e.name === name);
}

describe("ProfileRegistry", () => {
  it("loads at start and serves profiles by name", async () => {
    await dir.write("a.yaml", `${good("alpha", 2)}---\n${good("beta", 4)}`);
    await registry.load();
    expect(registry.generation).toBe(1);
    expect(registry.loadedAt?.toISOString()).toBe("2026-01-01T00:00:00.000Z");
    expect(registry.get("beta").profile.resources.cores).toBe(4);
    expect(registry.list().map((e) => [e.name, e.status])).toEqual([
      ["alpha", "ok"],
      ["beta", "ok"],
    ]);
  });

  it("throws a typed not-found error with a suggestion", async () => {
    await dir.write("a.yaml", good("alpha", 2));
    await registry.load();
    const error = (() => {
      try {
        registry.get("alpah");
      } catch (thrown) {
        return thrown;
      }
    })();
    expect(error).toBeInstanceOf(ProfileNotFoundError);
    expect((error as ProfileNotFoundError).kind).toBe("not_found");
    expect((error as Error).message).toContain('did you mean "alpha"?');
  });

  it("lists a never-valid profile as invalid with its errors, and get throws a typed invalid error", async () => {
    await dir.write("a.yaml", `${good("alpha", 2)}---\n${good("broken", 0)}`);
    await registry.load();
    expect(entry("broken")?.status).toBe("invalid");
    expect(entry("broken")?.profile).toBeUndefined();
    expect(entry("broken")?.errors[0]).toMatchObject({ key: "resources.cores", line: 9 });
    expect(() => registry.get("broken")).toThrow(ProfileInvalidError);
    expect(() => registry.get("broken")).toThrow(/resources\.cores/);
    expect(registry.get("alpha").name).toBe("alpha");
    expect(logged.some((line) => line.startsWith("error ") && line.includes("resources.cores"))).toBe(true);
  });

  it("keeps the last good version of a profile whose file broke, shows the error, and recovers", async () => {
    await dir.write("a.yaml", `${good("alpha", 2)}---\n${good("beta", 4)}`);
    await registry.load();
    const lastGood = registry.get("beta");

    await dir.write("a.yaml", `${good("alpha", 3)}---\n${good("beta", -1)}`);
    const broke = await registry.reload();
    expect(broke).toEqual({ generation: 2, added: [], removed: [], changed: ["alpha", "beta"] });
    expect(registry.get("alpha").profile.resources.cores).toBe(3);
    expect(registry.get("beta")).toBe(lastGood);
    expect(entry("beta")).toMatchObject({ status: "stale", profile: lastGood });
    expect(entry("beta")?.errors[0]).toMatchObject({ key: "resources.cores", line: 9, value: -1 });

    await dir.write("a.yaml", `${good("alpha", 3)}---\n${good("beta", 8)}`);
    await registry.reload();
    expect(entry("beta")).toMatchObject({ status: "ok", errors: [] });
    expect(registry.get("beta").profile.resources.cores).toBe(8);
  });

  it("keeps the last good version when a YAML error hides the profile's name", async () => {
    await dir.write("a.yaml", good("alpha", 2));
    await registry.load();
    await dir.write("a.yaml", "name: alpha\ntemplate_vmid: [9000\n");
    await registry.reload();
    expect(entry("alpha")?.status).toBe("stale");
    expect(entry("alpha")?.errors[0]?.message).toMatch(/^YAML: /);
    expect(registry.get("alpha").profile.resources.cores).toBe(2);
  });

  it("keeps every profile (stale) when the directory cannot be read", async () => {
    await dir.write("a.yaml", good("alpha", 2));
    await registry.load();
    await dir.remove();
    await registry.reload();
    expect(entry("alpha")?.status).toBe("stale");
    expect(registry.get("alpha").name).toBe("alpha");
    expect(registry.fileProblems()[0]?.message).toContain("cannot read the profiles directory");
  });

  it("drops a profile whose document was removed, and one whose file was deleted", async () => {
    await dir.write("a.yaml", `${good("alpha", 2)}---\n${good("beta", 4)}`);
    await dir.write("c.yaml", good("gamma", 1));
    await registry.load();

    await dir.write("a.yaml", good("alpha", 2));
    await dir.delete("c.yaml");
    const change = await registry.reload();
    expect(change.removed).toEqual(["beta", "gamma"]);
    expect(registry.list().map((e) => e.name)).toEqual(["alpha"]);
    expect(() => registry.get("beta")).toThrow(ProfileNotFoundError);
  });

  it("notifies listeners with the generation and what changed", async () => {
    const changes: ProfileRegistryChange[] = [];
    const unsubscribe = registry.onChange((change) => changes.push(change));
    await dir.write("a.yaml", good("alpha", 2));
    await registry.load();
    await dir.write("b.yaml", good("beta", 2));
    await registry.reload();
    unsubscribe();
    await registry.reload();
    expect(changes).toEqual([
      { generation: 1, added: ["alpha"], removed: [], changed: [] },
      { generation: 2, added: ["beta"], removed: [], changed: [] },
    ]);
    expect(registry.generation).toBe(3);
  });

  it("runs overlapping reloads one after another, each building a complete set", async () => {
    await dir.write("a.yaml", good("alpha", 2));
    const [first, second] = await Promise.all([registry.reload(), registry.reload()]);
    expect([first.generation, second.generation]).toEqual([1, 2]);
    expect(registry.list().map((e) => e.status)).toEqual(["ok"]);
  });

  it("shows a duplicate as its own invalid entry and serves the first definition", async () => {
    await dir.write("a.yaml", good("twin", 2));
    await dir.write("b.yaml", good("twin", 6));
    await registry.load();
    expect(registry.list().map((e) => [e.name, e.status, e.source.file.endsWith("a.yaml")])).toEqual([
      ["twin", "ok", true],
      ["twin", "invalid", false],
    ]);
    expect(registry.get("twin").profile.resources.cores).toBe(2);
  });

  it("names a document without a readable name after its file and position", async () => {
    await dir.write("a.yaml", "template_vmid: 9000\n");
    await registry.load();
    expect(registry.list()).toEqual([expect.objectContaining({ name: `${dir.path}/a.yaml#1`, status: "invalid" })]);
  });
});
