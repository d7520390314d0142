// Every binary answers --version with exactly one line in the operator guide's format, filled in
// from git at build time, and runs from the repository root through node_modules/.bin (what
// `npx <binary>` resolves to after `npm ci`).
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { versionLine } from "@agentlab/core";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "../..");
const BINARIES = [
  "agentlab",
  "agentlabd",
  "agentlab-control",
  "agentlab-runner",
  "agentlab-artifacts",
  "agentlab-guest",
  "pve-sim",
];
const FORMAT =
  /^AgentLab version=(v\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?|dev) commit=[0-9a-f]{7,} date=\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

describe("--version", () => {
  const head = execFileSync("git", ["rev-parse", "--short=7", "HEAD"], { cwd: root, encoding: "utf8" }).trim();

  for (const name of BINARIES) {
    it(`${name} prints the version line of this commit`, () => {
      const out = execFileSync(join(root, "node_modules/.bin", name), ["--version"], { cwd: root, encoding: "utf8" });
      const lines = out.trimEnd().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(FORMAT);
      expect(lines[0]).toContain(`commit=${head}`);
    });
  }

  it("formats build facts exactly as the guide shows", () => {
    expect(versionLine({ version: "v1.2.3", commit: "abc1234", date: "2025-01-15T10:30:00Z" })).toBe(
      "AgentLab version=v1.2.3 commit=abc1234 date=2025-01-15T10:30:00Z",
    );
    expect(versionLine()).toMatch(FORMAT);
  });
});
