import { parseProfileFile } from "@agentlab/control/profiles/profile-loader";
import { describe, expect, it } from "vitest";

function parseOne(text: string) {
  const [document] = parseProfileFile("/etc/agentlab/profiles/legacy.yaml", text, new Date(0));
  if (!document) throw new Error("no document");
  return document;
}

describe("legacy profile keys", () => {
  it("accepts template_vm as template_vmid, with a warning naming the new key", () => {
    const document = parseOne("name: old\ntemplate_vm: 9000\n");
    expect("profile" in document && document.profile).toMatchObject({ template_vmid: 9000 });
    expect(document.warnings).toEqual([
      expect.objectContaining({ severity: "warning", key: "template_vm", line: 2, hint: "rename it to template_vmid" }),
    ]);
  });

  it.each([
    ["cpu", "name: old\ntemplate_vmid: 9000\ncpu: 4\n"],
    ["cores", "name: old\ntemplate_vmid: 9000\ncores: 4\n"],
  ])("accepts top-level %s as resources.cores, with a warning", (key, text) => {
    const document = parseOne(text);
    expect("profile" in document && document.profile.resources.cores).toBe(4);
    expect(document.warnings).toEqual([
      expect.objectContaining({ key, line: 3, hint: "rename it to resources.cores" }),
    ]);
  });

  it("loads the upgrade guide's old example unchanged", () => {
    const document = parseOne("name: my-profile\ntemplate_vm: 9000\ncpu: 4\n");
    expect("profile" in document && document.profile).toMatchObject({ template_vmid: 9000, resources: { cores: 4 } });
    expect(document.warnings.map((w) => w.key)).toEqual(["template_vm", "cpu"]);
  });

  it("accepts artifacts.ttl_minutes (the upstream name) as artifacts.retention_minutes", () => {
    const document = parseOne("name: old\ntemplate_vmid: 9000\nartifacts:\n  ttl_minutes: 30\n");
    expect("profile" in document && document.profile.artifacts.retention_minutes).toBe(30);
    expect(document.warnings[0]).toMatchObject({ key: "artifacts.ttl_minutes", line: 4 });
  });

  it("only warns when old and new are both present with the same value", () => {
    const document = parseOne("name: old\ntemplate_vm: 9000\ntemplate_vmid: 9000\ncpu: 2\nresources:\n  cores: 2\n");
    expect("profile" in document).toBe(true);
    expect(document.warnings.map((w) => w.key)).toEqual(["template_vm", "cpu"]);
    expect(document.warnings[0]?.message).toContain("redundant");
  });

  it.each([
    ["template_vm vs template_vmid", "name: old\ntemplate_vm: 9000\ntemplate_vmid: 9001\n", "template_vm", 2],
    ["cpu vs resources.cores", "name: old\ntemplate_vmid: 9000\ncpu: 4\nresources:\n  cores: 2\n", "cpu", 3],
    ["cores vs resources.cores", "name: old\ntemplate_vmid: 9000\ncores: 4\nresources:\n  cores: 2\n", "cores", 3],
    [
      "artifacts.ttl_minutes vs retention_minutes",
      "name: old\ntemplate_vmid: 9000\nartifacts:\n  ttl_minutes: 5\n  retention_minutes: 6\n",
      "artifacts.ttl_minutes",
      4,
    ],
  ])("rejects %s with different values", (_label, text, key, line) => {
    const document = parseOne(text);
    expect("errors" in document).toBe(true);
    if (!("errors" in document)) return;
    expect(document.errors).toEqual([expect.objectContaining({ severity: "error", key, line })]);
    expect(document.errors[0]?.message).toContain("different values");
  });

  it("rejects cpu and cores that disagree with each other, pointing at both", () => {
    const document = parseOne("name: old\ntemplate_vmid: 9000\ncpu: 4\ncores: 8\n");
    expect("errors" in document && document.errors.map((e) => [e.key, e.line])).toEqual([
      ["cpu", 3],
      ["cores", 4],
    ]);
  });

  it("points a schema error on a legacy key's value at the legacy key", () => {
    const document = parseOne("name: old\ntemplate_vmid: 9000\ncpu: 0\n");
    expect("errors" in document && document.errors).toEqual([
      expect.objectContaining({ key: "cpu", line: 3, value: 0 }),
    ]);
  });
});
