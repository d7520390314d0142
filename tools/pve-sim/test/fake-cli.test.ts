import { execFile } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPveSim, type PveSim } from "../src/index.js";

/** The fake CLI through the committed shell wrappers and the bundled client (reference/proxmox.md §2, §5.6). */
let sim: PveSim;

beforeAll(async () => {
  sim = await createPveSim({ timeScale: 0.001 });
});
afterAll(async () => {
  await sim.close();
});

function run(
  tool: string,
  args: string[],
  extraEnv: Record<string, string> = {},
): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    execFile(tool, args, { env: { ...process.env, ...sim.cliEnv, ...extraEnv } }, (err, stdout, stderr) => {
      const code = err ? Number((err as { code?: number }).code ?? 1) : 0;
      resolve({ stdout, stderr, code });
    });
  });
}

describe("fake qm/pvesh/pvesm", () => {
  it("clones, configures, starts and reports like qm", async () => {
    const clone = await run("qm", ["clone", "9000", "100", "--full", "0", "--name", "sbx-100"]);
    expect(clone.code).toBe(0);
    expect(clone.stdout).toContain("create linked clone of drive scsi0 (local-zfs:base-9000-disk-0)");
    expect(await run("qm", ["status", "100"])).toEqual({ stdout: "status: stopped\n", stderr: "", code: 0 });
    const set = await run("qm", ["set", "100", "--memory", "4096", "--cores", "2", "--tags", "B;a"]);
    expect(set.code).toBe(0);
    expect(set.stdout).toBe("update VM 100: -cores 2 -memory 4096 -tags B;a\n");
    const config = await run("qm", ["config", "100"]);
    expect(config.stdout).toContain("cores: 2\n");
    expect(config.stdout).toContain("memory: 4096\n");
    expect(config.stdout).toContain("tags: a;b\n");
    expect(config.stdout).not.toContain("digest");
    const lines = config.stdout.trim().split("\n");
    expect([...lines].sort()).toEqual(lines);
    expect((await run("qm", ["start", "100"])).code).toBe(0);
    expect((await run("qm", ["status", "100"])).stdout).toBe("status: running\n");
    const again = await run("qm", ["start", "100"]);
    expect(again.code).toBe(255);
    expect(again.stderr).toBe("VM 100 already running\n");
  });

  it("prints the guest agent's interfaces as a pretty JSON array once the agent answers", async () => {
    let result = await run("qm", ["guest", "cmd", "100", "network-get-interfaces"]);
    for (let attempt = 0; attempt < 50 && !result.stdout.includes("198.51.100."); attempt++) {
      if (result.code !== 0) expect(result.stderr).toBe("QEMU guest agent is not running\n");
      result = await run("qm", ["guest", "cmd", "100", "network-get-interfaces"]);
    }
    expect(result.code).toBe(0);
    const parsed = JSON.parse(result.stdout) as Array<{ name: string }>;
    expect(Array.isArray(parsed)).toBe(true);
    expect(parsed.map((i) => i.name)).toEqual(["lo", "eth0"]);
    expect(result.stdout).toContain('\n   {\n      "hardware-address"');
  });

  it("pvesh prints bare data and exits 0 on a failed task; pvesm alloc prints the real sentence", async () => {
    expect(await run("pvesh", ["get", "/cluster/nextid", "--output-format", "json"])).toEqual({
      stdout: '"101"\n',
      stderr: "",
      code: 0,
    });
    const create = await run("pvesh", ["create", "/nodes/pve/qemu/100/status/start"]);
    expect(create.code).toBe(0);
    expect(create.stderr).toBe("VM 100 already running\n");
    expect(create.stdout.trim()).toMatch(/^UPID:pve:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:qmstart:100:root@pam:$/);
    const unknown = await run("pvesh", ["get", "/nodes/pve/bogus"]);
    expect(unknown).toMatchObject({ code: 255, stderr: "no 'get' handler for '/nodes/pve/bogus'\n" });
    expect(await run("pvesm", ["alloc", "local-zfs", "100", "vm-100-disk-1", "1G"])).toEqual({
      stdout: "successfully created 'local-zfs:vm-100-disk-1'\n",
      stderr: "",
      code: 0,
    });
    const list = await run("qm", ["list"]);
    expect(list.stdout.split("\n")[0]).toMatch(/^\s+VMID NAME\s+STATUS\s+MEM\(MB\)\s+BOOTDISK\(GB\) PID/);
    expect(list.stdout).toMatch(/\s+100 sbx-100\s+running\s+4096/);
  });

  it("exits 255 with PVE's texts on errors, 0 with a note on WARNINGS", async () => {
    const missing = await run("qm", ["status", "555"]);
    expect(missing).toMatchObject({
      code: 255,
      stderr: "Configuration file 'nodes/pve/qemu-server/555.conf' does not exist\n",
    });
    const bad = await run("qm", ["set", "100", "--cpulist", "0-3"]);
    expect(bad.code).toBe(255);
    expect(bad.stderr).toContain("400 Parameter verification failed.\n");
    expect(bad.stderr).toContain(
      "cpulist: property is not defined in schema and the schema does not allow additional properties\n",
    );
    const rule = sim.faults.add({ match: { taskType: "qmstop" }, effect: { type: "taskWarn", count: 1 } });
    const stop = await run("qm", ["stop", "100"]);
    sim.faults.remove(rule);
    expect(stop).toMatchObject({ code: 0, stderr: "Task finished with 1 warning(s)!\n" });
    expect((await run("qm", ["status", "100"])).stdout).toBe("status: stopped\n");
  });

  it("unlocks a leaked lock, refuses non-root callers and reproduces the ipcc failure", async () => {
    const leak = sim.faults.add({ match: { taskType: "qmclone" }, effect: { type: "leakLock" } });
    expect((await run("qm", ["clone", "9000", "101"])).code).toBe(0);
    sim.faults.remove(leak);
    const locked = await run("qm", ["start", "101"]);
    expect(locked).toMatchObject({ code: 255, stderr: "VM is locked (clone)\n" });
    expect(await run("qm", ["unlock", "101"])).toEqual({ stdout: "", stderr: "", code: 0 });
    expect((await run("qm", ["config", "101"])).stdout).not.toContain("lock:");
    const nonRoot = await run("qm", ["list"], { PVESIM_UID: "1000" });
    expect(nonRoot).toMatchObject({ code: 255, stderr: "please run as root\n" });
    const ipcc = sim.faults.add({ effect: { type: "cliIpcc" } });
    const failed = await run("pvesh", ["get", "/version"]);
    sim.faults.remove(ipcc);
    expect(failed.code).toBe(255);
    expect(failed.stderr).toContain("ipcc_send_rec[1] failed: Unknown error -1\n");
  });
});
