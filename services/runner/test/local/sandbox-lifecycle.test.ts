import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { isBackendError } from "../../src/backend-errors.js";
import { isProcessAlive, listDescendants } from "../../src/backends/local/proc-process-table.js";
import type { SandboxState } from "../../src/backends/local/sandbox-state-file.js";
import { callContext, LocalTestHarness, OWNER_TAG } from "./local-test-harness.js";

function readState(harness: LocalTestHarness, vmid: number): SandboxState {
  return JSON.parse(readFileSync(path.join(harness.sandboxDir, String(vmid), "state.json"), "utf8")) as SandboxState;
}

function mountsMentioning(dir: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .filter((line) => line.includes(dir));
}

describe("local sandbox lifecycle", () => {
  let harness: LocalTestHarness;
  afterEach(() => harness.cleanup());

  it("is re-adopted by a fresh backend instance: list, status, stop and destroy", async () => {
    harness = new LocalTestHarness();
    const first = harness.backend();
    const provisioned = await first.provision(callContext(), harness.spec(9201));
    expect(provisioned).toMatchObject({ vmid: 9201, state: "stopped", owned: true, tags: [OWNER_TAG] });
    await first.start(callContext(), 9201);
    expect(await first.waitGuestIp(callContext(), 9201)).toEqual({ ipv4: "127.0.0.1" });
    await first.close();

    const state = readState(harness, 9201);
    expect(state.pid).toBeGreaterThan(0);
    expect(isProcessAlive(state.pid!, state.pidStartTime!)).toBe(true);
    const members = listDescendants(state.pid!);
    expect(members.length).toBeGreaterThan(0);

    const second = harness.backend();
    expect(await second.listVms(callContext())).toEqual([
      { vmid: 9201, name: "sandbox-9201", state: "running", owned: true, tags: [OWNER_TAG] },
    ]);
    expect((await second.status(callContext(), 9201)).state).toBe("running");
    await second.stop(callContext(), 9201);
    expect((await second.status(callContext(), 9201)).state).toBe("stopped");
    expect(isProcessAlive(state.pid!, state.pidStartTime!)).toBe(false);
    for (const member of members) expect(isProcessAlive(member.pid, member.startTime)).toBe(false);

    await second.stop(callContext(), 9201); // stopping a stopped sandbox succeeds
    expect(await second.destroy(callContext(), 9201)).toBe("destroyed");
    expect(existsSync(path.join(harness.sandboxDir, "9201"))).toBe(false);
    await expect(second.status(callContext(), 9201)).rejects.toSatisfy((err) => isBackendError(err, "not_found"));
    expect(await second.destroy(callContext(), 9201)).toBe("already_gone"); // gone is success, and says so
  });

  it("destroy of a running sandbox leaves no process, directory or mount", async () => {
    harness = new LocalTestHarness();
    const backend = harness.backend();
    await backend.provision(
      callContext(),
      harness.spec(9202, { guestCommand: ["/bin/sh", "-c", "sleep 1000 & sleep 1000 & wait"] }),
    );
    await backend.start(callContext(), 9202);
    const state = readState(harness, 9202);
    const members = listDescendants(state.pid!);
    await backend.destroy(callContext(), 9202);
    expect(isProcessAlive(state.pid!, state.pidStartTime!)).toBe(false);
    for (const member of members) expect(isProcessAlive(member.pid, member.startTime)).toBe(false);
    expect(existsSync(path.join(harness.sandboxDir, "9202"))).toBe(false);
    expect(mountsMentioning(harness.sandboxDir)).toEqual([]);
    expect(await backend.listVms(callContext(), { includeForeign: true })).toEqual([]);
  });

  it("refuses an existing vmid but answers a retry of the same request", async () => {
    harness = new LocalTestHarness();
    const backend = harness.backend();
    const ctx = callContext();
    await backend.provision(ctx, harness.spec(9203));
    expect(await backend.provision(ctx, harness.spec(9203))).toMatchObject({ vmid: 9203, state: "stopped" });
    await expect(backend.provision(callContext(), harness.spec(9203))).rejects.toSatisfy((err) =>
      isBackendError(err, "already_exists"),
    );
  });

  it("lists and manages only sandboxes carrying our tag, unless adopted by vmid and name", async () => {
    harness = new LocalTestHarness();
    const backend = harness.backend();
    await backend.provision(callContext(), harness.spec(9204, { ownerTag: "agentlab-other" }));
    expect(await backend.listVms(callContext())).toEqual([]);
    expect(await backend.listVms(callContext(), { includeForeign: true })).toMatchObject([
      { vmid: 9204, owned: false },
    ]);
    await expect(backend.destroy(callContext(), 9204)).rejects.toSatisfy((err) => isBackendError(err, "not_owned"));
    await expect(backend.stop(callContext(), 9204, { adopt: { vmid: 9204, name: "wrong-name" } })).rejects.toSatisfy(
      (err) => isBackendError(err, "not_owned"),
    );
    // Another deployment's sandbox is never adopted, even with the right VMID and name.
    await expect(backend.stop(callContext(), 9204, { adopt: { vmid: 9204, name: "sandbox-9204" } })).rejects.toSatisfy(
      (err) => isBackendError(err, "not_owned"),
    );
    // An untagged one (as the original AgentLab left its VMs) is adopted once, and is ours from then on.
    const stateFile = path.join(harness.sandboxDir, "9204", "state.json");
    const state = JSON.parse(readFileSync(stateFile, "utf8")) as Record<string, unknown>;
    writeFileSync(stateFile, JSON.stringify({ ...state, ownerTag: "", tags: [] }));
    await backend.stop(callContext(), 9204, { adopt: { vmid: 9204, name: "sandbox-9204" } });
    expect(await backend.listVms(callContext())).toMatchObject([{ vmid: 9204, owned: true }]);
  });

  it("reports a stopped sandbox once its init exits, with its output in console.log", async () => {
    harness = new LocalTestHarness();
    const backend = harness.backend();
    await backend.provision(
      callContext(),
      harness.spec(9205, { guestCommand: ["/bin/sh", "-c", "echo hello-console"] }),
    );
    await backend.start(callContext(), 9205);
    await harness.waitStopped(backend, 9205);
    expect(readFileSync(path.join(harness.sandboxDir, "9205", "console.log"), "utf8")).toContain("hello-console");
    await expect(backend.waitGuestIp(callContext(), 9205)).rejects.toSatisfy((err) =>
      isBackendError(err, "task_failed"),
    );
  });

  it("mounts a workspace volume at /work and keeps it after the sandbox is destroyed", async () => {
    harness = new LocalTestHarness();
    const backend = harness.backend();
    const { volid } = await backend.volumeCreate(callContext(), { storage: "local", name: "ws-one", sizeGb: 1 });
    expect(volid).toBe("local:ws-one");
    await backend.provision(
      callContext(),
      harness.spec(9206, { guestCommand: ["/bin/sh", "-c", "echo kept > /work/f"] }),
    );
    await backend.volumeAttach(callContext(), 9206, volid, "scsi1");
    await backend.start(callContext(), 9206);
    await harness.waitStopped(backend, 9206);
    await expect(backend.volumeDelete(callContext(), volid)).rejects.toSatisfy((err) =>
      isBackendError(err, "invalid_argument"),
    );
    await backend.destroy(callContext(), 9206);
    const volumeFile = path.join(harness.sandboxDir, "volumes", "ws-one", "f");
    expect(readFileSync(volumeFile, "utf8")).toBe("kept\n");
    await backend.volumeDelete(callContext(), volid);
    expect(existsSync(volumeFile)).toBe(false);
  });

  it("refuses snapshots as unavailable and reports the host in info()", async () => {
    harness = new LocalTestHarness();
    const backend = harness.backend();
    await expect(backend.snapshotCreate(callContext(), 1, "s")).rejects.toSatisfy((err) =>
      isBackendError(err, "unavailable"),
    );
    const info = await backend.info(callContext());
    expect(info.kind).toBe("local");
    expect(info.capacity.cores).toBeGreaterThan(0);
    expect(info.capacity.memoryMb).toBeGreaterThan(0);
  });

  it("fails with `unavailable` and what to install when the isolation tool is missing", async () => {
    harness = new LocalTestHarness();
    const backend = harness.backend({ isolation: "bwrap", bwrapPath: "/nonexistent/bwrap" });
    await backend.provision(callContext(), harness.spec(9207));
    const failure = await backend.start(callContext(), 9207).catch((err: unknown) => err);
    expect(isBackendError(failure, "unavailable")).toBe(true);
    expect(String((failure as Error).message)).toContain("/nonexistent/bwrap");
  });
});
