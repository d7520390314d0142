import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { applyCgroupLimits, removeCgroup } from "../../src/backends/local/cgroup-limits.js";
import { callContext, LocalTestHarness } from "./local-test-harness.js";

/**
 * A local sandbox's profile limits as cgroups. This host mounts cgroup v1 (cpu and memory
 * hierarchies, writable by root), so v1 is tested for real: the limit is written, the sandbox's
 * processes are in it, and a process allocating past memory_mb is killed. cgroup v2 cannot be
 * mounted here; its files are checked on a directory laid out like a v2 root.
 */
const V1_ROOT = "/sys/fs/cgroup";
const v1Usable =
  process.getuid?.() === 0 &&
  !existsSync(path.join(V1_ROOT, "cgroup.controllers")) &&
  existsSync(path.join(V1_ROOT, "memory", "memory.limit_in_bytes")) &&
  existsSync(path.join(V1_ROOT, "cpu", "cpu.cfs_quota_us"));

describe.skipIf(!v1Usable)("cgroup v1 limits on a real local sandbox", () => {
  let harness: LocalTestHarness | undefined;
  afterEach(async () => {
    await harness?.cleanup();
    harness = undefined;
  });

  it("caps cpu and memory: the sandbox is in both cgroups, and a 300 MB allocation under 64 MB is killed", async () => {
    harness = new LocalTestHarness();
    const backend = harness.backend();
    const vmid = 9301;
    // No pause: whatever the sandbox forks while start() is moving it into the cgroups ends inside.
    const script = "head -c 300000000 /dev/zero | tail > /dev/null; echo tail-exit=$? > /work/result.txt";
    await backend.provision(
      callContext(),
      harness.spec(vmid, { cores: 1, memoryMb: 64, guestCommand: ["/bin/sh", "-c", script] }),
    );
    await backend.start(callContext(), vmid);
    const memoryDir = path.join(V1_ROOT, "memory", "agentlab", String(vmid));
    const cpuDir = path.join(V1_ROOT, "cpu", "agentlab", String(vmid));
    expect(readFileSync(path.join(memoryDir, "memory.limit_in_bytes"), "utf8").trim()).toBe(String(64 * 1024 * 1024));
    expect(readFileSync(path.join(cpuDir, "cpu.cfs_quota_us"), "utf8").trim()).toBe("100000");
    expect(readFileSync(path.join(cpuDir, "cpu.cfs_period_us"), "utf8").trim()).toBe("100000");
    expect(readFileSync(path.join(memoryDir, "cgroup.procs"), "utf8").trim()).not.toBe("");

    await harness.waitStopped(backend, vmid);
    // 137 = 128 + SIGKILL: the kernel's OOM killer, inside the sandbox's memory cgroup.
    expect(harness.readResults(vmid)).toEqual({ "tail-exit": "137" });

    await backend.destroy(callContext(), vmid);
    expect(existsSync(memoryDir)).toBe(false);
    expect(existsSync(cpuDir)).toBe(false);
  });
});

describe.skipIf(!v1Usable)("cgroup v1 limits refused by the kernel", () => {
  it("undoes half-applied limits and reports none, so a sandbox never looks limited when it is not", () => {
    // The kernel refuses a memory limit of "NaN" after the cpu cgroup was made and limited.
    const result = applyCgroupLimits(V1_ROOT, 9302, { cores: 1, memoryMb: Number.NaN }, () => []);
    expect(result.skipped).toMatch(/^cgroup v1 limits could not be applied/);
    expect(result.paths).toBeUndefined();
    expect(existsSync(path.join(V1_ROOT, "cpu", "agentlab", "9302"))).toBe(false);
    expect(existsSync(path.join(V1_ROOT, "memory", "agentlab", "9302"))).toBe(false);
  });
});

describe.skipIf(!v1Usable)("removing a v1 cgroup that still holds a process", () => {
  it("kills what is left inside, then removes it", async () => {
    const dir = path.join(V1_ROOT, "memory", "agentlab", "9303");
    mkdirSync(dir, { recursive: true });
    const straggler = spawn("sleep", ["60"], { stdio: "ignore" });
    const exited = new Promise((resolve) => straggler.once("exit", (_code, signal) => resolve(signal)));
    writeFileSync(path.join(dir, "cgroup.procs"), String(straggler.pid));
    await removeCgroup({ paths: [dir] });
    expect(await exited).toBe("SIGKILL");
    expect(existsSync(dir)).toBe(false);
  });
});

describe("cgroup limits on other hosts", () => {
  const dirs: string[] = [];
  const tempRoot = () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "agentlab-cgroup-"));
    dirs.push(dir);
    return dir;
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it("writes cpu.max and memory.max on a cgroup v2 root and enables the controllers down the tree", () => {
    const root = tempRoot();
    writeFileSync(path.join(root, "cgroup.controllers"), "cpuset cpu io memory pids\n");
    const result = applyCgroupLimits(root, 42, { cores: 1.5, memoryMb: 512 }, () => [123]);
    const dir = path.join(root, "agentlab", "42");
    expect(result).toEqual({ path: dir, paths: [dir] });
    expect(readFileSync(path.join(root, "cgroup.subtree_control"), "utf8")).toBe("+cpu +memory");
    expect(readFileSync(path.join(root, "agentlab", "cgroup.subtree_control"), "utf8")).toBe("+cpu +memory");
    expect(readFileSync(path.join(dir, "cpu.max"), "utf8")).toBe("150000 100000");
    expect(readFileSync(path.join(dir, "memory.max"), "utf8")).toBe(String(512 * 1024 * 1024));
    expect(readFileSync(path.join(dir, "cgroup.procs"), "utf8")).toBe("123");
  });

  it("skips with a reason, never fails, where no hierarchy offers the controllers", () => {
    const root = tempRoot();
    expect(applyCgroupLimits(root, 42, { memoryMb: 512 }, () => [123]).skipped).toMatch(/no cgroup v2 hierarchy/);
    writeFileSync(path.join(root, "cgroup.controllers"), "pids\n");
    expect(applyCgroupLimits(root, 42, { memoryMb: 512 }, () => [123]).skipped).toMatch(/neither cpu nor memory/);
    expect(applyCgroupLimits(root, 42, {}, () => [123]).skipped).toBe("no cores or memory requested");
  });

  it("removes every recorded directory, and accepts state written before v1 support", async () => {
    const root = tempRoot();
    const a = path.join(root, "a");
    const b = path.join(root, "b");
    mkdirSync(a);
    mkdirSync(b);
    await removeCgroup({ paths: [a, b] });
    expect(existsSync(a) || existsSync(b)).toBe(false);
    mkdirSync(a);
    await removeCgroup({ path: a });
    expect(existsSync(a)).toBe(false);
    await removeCgroup({ paths: [a] }); // already gone: fine
  });
});
