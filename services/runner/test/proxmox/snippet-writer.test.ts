import {
  existsSync,
  lstatSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { deleteSnippetsOf, writeSnippet } from "../../src/backends/proxmox-common/snippet-writer.js";

/**
 * The cloud-init snippet holds the sandbox's one-time bootstrap token, on a directory other
 * processes can write to: it is created exclusively, readable by its owner only, and a file or
 * symlink already at its name is never written through.
 */
describe("cloud-init snippets on disk", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "agentlab-snippet-writer-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const config = () => ({ snippetsDir: dir, snippetStorage: "local" });
  const names = (...hex: string[]) => {
    let i = 0;
    return () => hex[Math.min(i++, hex.length - 1)] as string;
  };

  it("writes mode 0600 with the bootstrap document, and names its volume", async () => {
    const written = await writeSnippet(config(), 1234, "sandbox-1234", '{"token":"t-1"}', names("00112233aabbccdd"));
    expect(written).toEqual({
      filePath: path.join(dir, "agentlab-1234-00112233aabbccdd.yaml"),
      fileName: "agentlab-1234-00112233aabbccdd.yaml",
      volid: "local:snippets/agentlab-1234-00112233aabbccdd.yaml",
    });
    expect(statSync(written.filePath).mode & 0o777).toBe(0o600);
    const text = readFileSync(written.filePath, "utf8");
    expect(text.startsWith("#cloud-config\n")).toBe(true);
    expect(text).toContain('{"token":"t-1"}');
  });

  it("never writes through a symlink or a file already at the name: it picks another name", async () => {
    const outside = path.join(dir, "..", `${path.basename(dir)}-outside`);
    writeFileSync(outside, "precious\n");
    try {
      symlinkSync(outside, path.join(dir, "agentlab-7-aaaaaaaaaaaaaaaa.yaml"));
      writeFileSync(path.join(dir, "agentlab-7-bbbbbbbbbbbbbbbb.yaml"), "someone's\n");
      const written = await writeSnippet(
        config(),
        7,
        "sandbox-7",
        "{}",
        names("aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb", "cccccccccccccccc"),
      );
      expect(written.fileName).toBe("agentlab-7-cccccccccccccccc.yaml");
      expect(readFileSync(outside, "utf8")).toBe("precious\n");
      expect(lstatSync(path.join(dir, "agentlab-7-aaaaaaaaaaaaaaaa.yaml")).isSymbolicLink()).toBe(true);
      expect(readFileSync(path.join(dir, "agentlab-7-bbbbbbbbbbbbbbbb.yaml"), "utf8")).toBe("someone's\n");
    } finally {
      rmSync(outside, { force: true });
    }
  });

  it("gives up after five taken names, and says where a missing directory should come from", async () => {
    writeFileSync(path.join(dir, "agentlab-8-dddddddddddddddd.yaml"), "");
    await expect(writeSnippet(config(), 8, "sandbox-8", "{}", names("dddddddddddddddd"))).rejects.toMatchObject({
      kind: "internal",
    });
    const missing = { snippetsDir: path.join(dir, "nope"), snippetStorage: "local" };
    await expect(writeSnippet(missing, 8, "sandbox-8", "{}")).rejects.toMatchObject({
      kind: "unavailable",
      details: { hint: expect.stringContaining("pvesm set local --content") },
    });
  });

  it("deletes every snippet of the VMID and nothing else", async () => {
    await writeSnippet(config(), 9, "sandbox-9", "{}", names("1111111111111111"));
    await writeSnippet(config(), 9, "sandbox-9", "{}", names("2222222222222222"));
    await writeSnippet(config(), 90, "sandbox-90", "{}", names("3333333333333333"));
    expect((await deleteSnippetsOf(config(), 9)).sort()).toEqual([
      "agentlab-9-1111111111111111.yaml",
      "agentlab-9-2222222222222222.yaml",
    ]);
    expect(existsSync(path.join(dir, "agentlab-90-3333333333333333.yaml"))).toBe(true);
  });
});
