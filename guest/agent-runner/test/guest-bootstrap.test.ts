import { spawn } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { FetchBootstrapResponseSchema, GuestJobStatus } from "@agentlab/api";
import { create } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import { payloadCachePath, writePayloadCache } from "../src/payload-cache.js";
import { runHarnessGuest, setupHarness, VMID } from "./support/guest-harness.js";

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe("agentlab-guest bootstrap", () => {
  it("exits 0 quietly when control has no job for the sandbox", async () => {
    const h = await setupHarness(cleanups, { noJob: true });
    expect(await runHarnessGuest(h)).toBe(0);
    expect(h.control.fetches).toHaveLength(1);
    expect(h.control.fetches[0]?.vmid).toBe(VMID);
    expect(h.control.reports).toHaveLength(0);
    expect(existsSync(h.repoDir)).toBe(false);
    expect(h.guestLog.join("\n")).toContain("no job assigned");
  });

  it("retries FetchBootstrap with exponential back-off, then runs the job", async () => {
    const h = await setupHarness(cleanups, { agentCommand: "true", control: { fetchFailures: 3 } });
    expect(await runHarnessGuest(h)).toBe(0);
    expect(h.control.fetches).toHaveLength(4);
    expect(h.sleeps.slice(0, 3)).toEqual([2_000, 4_000, 8_000]);
    expect(h.control.finalReport()?.status).toBe(GuestJobStatus.COMPLETED);
  });

  it("gives up after the bounded number of attempts and exits non-zero", async () => {
    const h = await setupHarness(cleanups, { agentCommand: "true", control: { fetchFailures: 100 } });
    expect(await runHarnessGuest(h)).toBe(1);
    expect(h.control.fetches).toHaveLength(10);
    expect(h.sleeps).toEqual([2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000, 30_000, 30_000]);
  });

  it("reuses a cached payload on restart without a second FetchBootstrap, continuing the log numbering", async () => {
    const h = await setupHarness(cleanups, {
      agentCommand: "echo resumed-run",
      control: { initialStoredSeq: 5n },
    });
    await writePayloadCache(h.runDir, VMID, create(FetchBootstrapResponseSchema, h.payload));
    expect(statSync(payloadCachePath(h.runDir)).mode & 0o777).toBe(0o600);
    expect(statSync(h.runDir).mode & 0o777).toBe(0o700);

    expect(await runHarnessGuest(h)).toBe(0);
    expect(h.control.fetches).toHaveLength(0);
    expect(h.control.finalReport()?.status).toBe(GuestJobStatus.COMPLETED);
    expect(h.control.logs[0]?.seq).toBe(6n);
    expect(h.control.logs.map((l) => l.data).join("")).toContain("resumed-run");
    // The cache, which holds secrets, is gone once the job is over; a further start does nothing.
    expect(existsSync(payloadCachePath(h.runDir))).toBe(false);
    const reports = h.control.reports.length;
    expect(await runHarnessGuest(h)).toBe(0);
    expect(h.control.fetches).toHaveLength(0);
    expect(h.control.reports).toHaveLength(reports);
  });

  it("exits 3 with a clear message when the bootstrap file is missing", async () => {
    const h = await setupHarness(cleanups, { agentCommand: "true" });
    h.env.AGENTLAB_BOOTSTRAP_FILE = join(h.root, "missing.json");
    expect(await runHarnessGuest(h)).toBe(3);
    expect(h.guestLog.join("\n")).toMatch(/cannot read bootstrap file .*missing\.json/);
  });
});

describe("the bundled agentlab-guest", () => {
  const bundle = join(import.meta.dirname, "..", "dist", "agentlab-guest.mjs");

  function runBundle(args: string[], env: NodeJS.ProcessEnv) {
    return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [bundle, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => {
        stdout += d.toString();
      });
      child.stderr.on("data", (d: Buffer) => {
        stderr += d.toString();
      });
      child.on("error", reject);
      child.on("close", (code) => resolve({ code, stdout, stderr }));
    });
  }

  it("prints its version", async () => {
    const result = await runBundle(["--version"], { PATH: process.env.PATH });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^AgentLab version=\S+ commit=[0-9a-f]{7,} date=\S+\n$/);
  });

  it("runs a whole job with nothing but Node and git", async () => {
    const h = await setupHarness(cleanups, { agentCommand: "echo hello-from-bundle; echo change >> README.md" });
    const result = await runBundle([], h.env);
    expect(result.code).toBe(0);
    const final = h.control.finalReport();
    expect(final?.status).toBe(GuestJobStatus.COMPLETED);
    expect(h.control.logs.map((l) => l.data).join("")).toContain("hello-from-bundle");
    expect(h.artifacts.uploads.map((u) => u.path)).toEqual(["agentlab-artifacts.tar.gz", "changes.patch"]);
    expect(h.artifacts.uploads[1]?.data.toString()).toContain("+change");
  });
});
