import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { SecretRedactor } from "../src/secret-redactor.js";
import { writeTarGz } from "../src/tar-gz-writer.js";
import { tempDir } from "./support/git-fixtures.js";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

describe("SecretRedactor", () => {
  const redactor = new SecretRedactor(["hunter2-secret", "abc", "-----BEGIN KEY-----\nline-one-secret\n", undefined]);

  it("hides values of at least 6 characters, longest first, and each line of a multi-line secret", () => {
    expect(redactor.redact("pw=hunter2-secret abc")).toBe("pw=[REDACTED] abc");
    expect(redactor.redact("key: line-one-secret")).toBe("key: [REDACTED]");
  });

  it("catches a secret split across chunks at every possible boundary", () => {
    const text = "before hunter2-secret after\n";
    for (let cut = 0; cut <= text.length; cut++) {
      const stream = redactor.stream();
      const out = stream.push(text.slice(0, cut)) + stream.push(text.slice(cut)) + stream.end();
      expect(out).toBe("before [REDACTED] after\n");
    }
  });

  it("passes ordinary output through without holding it back", () => {
    const stream = redactor.stream();
    expect(stream.push("plain line\n")).toBe("plain line\n");
    expect(stream.push("ends with hun")).toBe("ends with ");
    expect(stream.push("gry\n")).toBe("hungry\n");
  });
});

describe("writeTarGz", () => {
  it("writes an archive that tar lists and extracts byte for byte", async () => {
    const dir = tempDir("agentlab-tar-", cleanups);
    const big = Buffer.alloc(70_000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) % 256;
    writeFileSync(join(dir, "a.log"), "hello\n");
    writeFileSync(join(dir, "empty"), "");
    writeFileSync(join(dir, "big.bin"), big);
    const target = join(dir, "out.tar.gz");
    await writeTarGz(target, [
      { name: "agent.log", source: join(dir, "a.log") },
      { name: "empty.txt", source: join(dir, "empty") },
      { name: "big.bin", source: join(dir, "big.bin") },
    ]);
    expect(execFileSync("tar", ["-tzf", target], { encoding: "utf8" })).toBe("agent.log\nempty.txt\nbig.bin\n");
    const out = join(dir, "x");
    mkdirSync(out);
    execFileSync("tar", ["-xzf", target, "-C", out]);
    expect(readFileSync(join(out, "agent.log"), "utf8")).toBe("hello\n");
    expect(readFileSync(join(out, "empty.txt"), "utf8")).toBe("");
    expect(readFileSync(join(out, "big.bin"))).toEqual(big);
  });
});
