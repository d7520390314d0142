import { loadProfileDirectory, type ProfileFileSystem } from "@agentlab/control/profiles/profile-loader";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createTempProfilesDir, type TempProfilesDir, yaml } from "./temp-profiles-dir.js";

let dir: TempProfilesDir;
beforeEach(async () => {
  dir = await createTempProfilesDir();
});
afterEach(async () => {
  await dir.remove();
});

const multiDocument = yaml`
  # three profiles in one file
  name: first
  template_vmid: 9000
  resources:
    cores: 2
  ---
  name: second
  template_vmid: 9001
  resources:
    cores: 0
    memory_mb: 4096
  ---
  name: third
  backend: local
  resources:
    memory_mb: 1024
`;

describe("loadProfileDirectory", () => {
  it("loads the good documents of a file and rejects the bad one with its file line and key", async () => {
    const file = await dir.write("team.yaml", multiDocument);
    const result = await loadProfileDirectory(dir.path);

    expect(result.profiles.map((p) => p.name)).toEqual(["first", "third"]);
    expect(result.rejected).toHaveLength(1);
    const [rejected] = result.rejected;
    expect(rejected?.name).toBe("second");
    expect(rejected?.errors).toEqual([
      expect.objectContaining({ file, line: 10, column: 3, key: "resources.cores", value: 0, severity: "error" }),
    ]);
    expect(rejected?.errors[0]?.message).toContain("at least 1");
  });

  it("keeps each document's own YAML text, source line and the file's mtime", async () => {
    await dir.write("team.yaml", multiDocument);
    const result = await loadProfileDirectory(dir.path);
    const third = result.profiles.find((p) => p.name === "third")!;
    expect(third.yamlText).toContain("name: third");
    expect(third.yamlText).not.toContain("name: first");
    expect(third.source.line).toBe(13);
    expect(third.documentIndex).toBe(2);
    expect(third.fileModifiedAt).toBeInstanceOf(Date);
    const first = result.profiles.find((p) => p.name === "first")!;
    expect(first.yamlText).toContain("# three profiles in one file");
    expect(first.yamlText).not.toContain("second");
  });

  it("reads *.yaml and *.yml in name order, not subdirectories or other files", async () => {
    await dir.write("b.yml", "name: bee\ntemplate_vmid: 9000\n");
    await dir.write("a.yaml", "name: ay\ntemplate_vmid: 9000\n");
    await dir.write("c.txt", "name: sea\ntemplate_vmid: 9000\n");
    await dir.write(".#a.yaml", "name: lock\ntemplate_vmid: 9000\n");
    const result = await loadProfileDirectory(dir.path);
    expect(result.profiles.map((p) => p.name)).toEqual(["ay", "bee"]);
  });

  it("rejects an empty document, and warns about a file with none", async () => {
    await dir.write("a.yaml", "name: ay\ntemplate_vmid: 9000\n---\n# nothing here\n");
    await dir.write("b.yaml", "# all commented out\n");
    const result = await loadProfileDirectory(dir.path);
    expect(result.profiles.map((p) => p.name)).toEqual(["ay"]);
    expect(result.rejected[0]?.errors[0]?.message).toContain("empty");
    expect(result.fileProblems).toEqual([expect.objectContaining({ severity: "warning", file: `${dir.path}/b.yaml` })]);
  });

  it("reports YAML syntax errors with their line and still loads the other files", async () => {
    await dir.write("a.yaml", "name: ay\ntemplate_vmid: 9000\nresources:\n  cores: [1\n");
    await dir.write("b.yaml", "name: bee\ntemplate_vmid: 9000\n");
    const result = await loadProfileDirectory(dir.path);
    expect(result.profiles.map((p) => p.name)).toEqual(["bee"]);
    expect(result.rejected[0]?.errors[0]).toMatchObject({ severity: "error", line: expect.any(Number) });
    expect(result.rejected[0]?.errors[0]?.message).toMatch(/^YAML: /);
  });

  it("rejects a later duplicate name and names both places", async () => {
    const first = await dir.write("a.yaml", "name: twin\ntemplate_vmid: 9000\n");
    const second = await dir.write("b.yaml", "# again\nname: twin\ntemplate_vmid: 9001\n");
    const result = await loadProfileDirectory(dir.path);
    expect(result.profiles).toHaveLength(1);
    expect(result.profiles[0]?.profile).toMatchObject({ template_vmid: 9000 });
    const error = result.rejected[0]?.errors[0];
    expect(error).toMatchObject({ file: second, line: 2, key: "name" });
    expect(error?.message).toContain(`${first}:1:1`);
    expect(error?.message).toContain(`${second}:2:1`);
    expect(result.profiles[0]?.warnings[0]?.message).toContain(`${second}:2:1`);
  });

  it("reports an unreadable directory instead of throwing", async () => {
    const result = await loadProfileDirectory(`${dir.path}/missing`);
    expect(result.directoryReadable).toBe(false);
    expect(result.fileProblems[0]).toMatchObject({ severity: "error", hint: expect.stringContaining("profiles_dir") });
  });

  it("reports a file it cannot read and loads the rest (injected filesystem)", async () => {
    const fileSystem: ProfileFileSystem = {
      readDirectory: async () => ["a.yaml", "b.yaml"],
      stat: async () => ({ isFile: () => true, mtime: new Date(0) }),
      readText: async (path) => {
        if (path.endsWith("a.yaml")) throw new Error("EACCES: permission denied");
        return "name: bee\ntemplate_vmid: 9000\n";
      },
    };
    const result = await loadProfileDirectory("/etc/agentlab/profiles", { fileSystem });
    expect(result.profiles.map((p) => p.name)).toEqual(["bee"]);
    expect(result.unreadableFiles).toEqual(["/etc/agentlab/profiles/a.yaml"]);
    expect(result.fileProblems[0]?.message).toContain("EACCES");
  });
});
