import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { RunnerService, VmPowerState } from "@agentlab/api";
import { createErrorMappingInterceptor } from "@agentlab/core";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Backend, CallContext } from "../src/backend.js";
import { createLocalBackend } from "../src/backends/local/local-backend.js";
import { DEFAULT_DEADLINES_MS, runnerRoutes } from "../src/runner-routes.js";

const OWNER_TAG = "agentlab-routes-test";
const RUNNER_VERSION = "AgentLab version=test commit=0000000 date=1970-01-01T00:00:00Z";

/** Records the CallContext of every backend call, then delegates to the real local backend. */
function recording(backend: Backend, seen: Array<{ method: string; ctx: CallContext }>): Backend {
  return new Proxy(backend, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== "function") return value;
      return (ctx: CallContext, ...rest: unknown[]) => {
        seen.push({ method: String(prop), ctx });
        return (value as (...args: unknown[]) => unknown).call(target, ctx, ...rest);
      };
    },
  });
}

async function expectCode(promise: Promise<unknown>, code: Code): Promise<ConnectError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConnectError);
  expect(Code[(err as ConnectError).code]).toBe(Code[code]);
  return err as ConnectError;
}

describe("RunnerService routes over a real local backend", () => {
  const sandboxDir = mkdtempSync(path.join(os.tmpdir(), "agentlab-runner-routes-"));
  const local = createLocalBackend({ sandboxDir, ownerTag: OWNER_TAG, stopGraceMs: 2000 });
  const seen: Array<{ method: string; ctx: CallContext }> = [];
  // A frozen clock makes deadlines exact; real time so the backend's own clock agrees with them.
  const NOW = Date.now();
  const client = createClient(
    RunnerService,
    createRouterTransport(
      runnerRoutes({ backend: recording(local, seen), runnerVersion: RUNNER_VERSION, clock: () => NOW }),
      // As listen() does in production: domain errors leave as their Connect codes.
      { router: { interceptors: [createErrorMappingInterceptor()] } },
    ),
  );
  /** Strips a sandbox's owner tag on disk, as a sandbox left by the original AgentLab looks. */
  const untag = (vmid: number) => {
    const stateFile = path.join(sandboxDir, String(vmid), "state.json");
    const state = JSON.parse(readFileSync(stateFile, "utf8")) as Record<string, unknown>;
    writeFileSync(stateFile, JSON.stringify({ ...state, ownerTag: "", tags: [] }));
  };
  let counter = 0;
  const rid = () => `routes-test-${++counter}`;
  /** A sandbox for a test that is about something else. */
  const provision = (vmid: number, name: string) =>
    client.provisionVm({ requestId: rid(), vmid, name, bootstrapJson: "{}", ownerTag: OWNER_TAG });

  beforeAll(() => {
    seen.length = 0;
  });
  afterAll(async () => {
    const ctx = { requestId: "cleanup", deadline: Date.now() + 60_000 };
    for (const vm of await local.listVms(ctx, { includeForeign: true })) {
      if (!vm.owned) untag(vm.vmid);
      await local.destroy(ctx, vm.vmid, { adopt: { vmid: vm.vmid, name: vm.name } });
    }
    await local.close();
    rmSync(sandboxDir, { recursive: true, force: true });
  });

  it("GetInfo returns the backend's description and the runner's version", async () => {
    const info = await client.getInfo({});
    expect(info.backendKind).toBe("local");
    expect(info.node).toBe(os.hostname());
    expect(info.hypervisorVersion).toBe(os.release());
    expect(info.runnerVersion).toBe(RUNNER_VERSION);
    expect(info.capacity?.cores).toBe(os.cpus().length);
    expect(info.capacity?.maxVms).toBeGreaterThan(0);
  });

  it("drives a sandbox through provision, start, status, wait, list, stop and destroy", async () => {
    const provisioned = await client.provisionVm({
      requestId: rid(),
      vmid: 4101,
      name: "routes-a",
      network: { localMode: "none" },
      bootstrapJson: JSON.stringify({ vmid: 4101 }),
      ownerTag: OWNER_TAG,
    });
    expect(provisioned.vm).toMatchObject({ vmid: 4101, name: "routes-a", state: VmPowerState.STOPPED, owned: true });
    expect(provisioned.vm?.tags).toContain(OWNER_TAG);

    // Without wait_guest_ip the answer carries no address: the caller asks with WaitGuestIp.
    expect((await client.startVm({ requestId: rid(), vmid: 4101 })).address).toBeUndefined();
    expect((await client.getVmStatus({ vmid: 4101 })).vm?.state).toBe(VmPowerState.RUNNING);
    expect(await client.waitGuestIp({ vmid: 4101 })).toMatchObject({ ipv4: "127.0.0.1", ipv6: "", mac: "" });

    const listed = await client.listVms({});
    expect(listed.vms.map((vm) => vm.vmid)).toEqual([4101]);

    await client.stopVm({ requestId: rid(), vmid: 4101 });
    expect((await client.getVmStatus({ vmid: 4101 })).vm?.state).toBe(VmPowerState.STOPPED);

    expect((await client.destroyVm({ requestId: rid(), vmid: 4101 })).alreadyGone).toBe(false);
    expect((await client.destroyVm({ requestId: rid(), vmid: 4101 })).alreadyGone).toBe(true);
    await expectCode(client.getVmStatus({ vmid: 4101 }), Code.NotFound);
  });

  it("StartVm with wait_guest_ip starts the VM and answers with its address, within one deadline", async () => {
    await provision(4106, "routes-boot");
    seen.length = 0;
    const started = await client.startVm({ requestId: "boot-4106", vmid: 4106, waitGuestIp: true });
    expect(started.address).toMatchObject({ ipv4: "127.0.0.1", ipv6: "", mac: "" });
    expect(seen.map((s) => s.method)).toEqual(["start", "waitGuestIp"]);
    // No deadline from the caller: starting and waiting get both calls' defaults, shared.
    expect(seen[0]?.ctx.deadline).toBe(NOW + DEFAULT_DEADLINES_MS.startVm + DEFAULT_DEADLINES_MS.waitGuestIp);
    expect(seen[1]?.ctx).toBe(seen[0]?.ctx);

    // A retry answers from the request-id cache; the same id without the flag is another request.
    seen.length = 0;
    expect((await client.startVm({ requestId: "boot-4106", vmid: 4106, waitGuestIp: true })).address?.ipv4).toBe(
      "127.0.0.1",
    );
    expect(seen).toEqual([]);
    await expectCode(client.startVm({ requestId: "boot-4106", vmid: 4106 }), Code.InvalidArgument);
    await client.destroyVm({ requestId: rid(), vmid: 4106 });
  });

  it("creates, attaches, detaches and deletes a volume", async () => {
    await provision(4102, "routes-b");
    const { volid } = await client.createVolume({ requestId: rid(), storage: "local", name: "ws-routes", sizeGb: 1 });
    expect(volid).toMatch(/ws-routes/);
    await client.attachVolume({ requestId: rid(), vmid: 4102, volid, slot: "scsi1" });
    await client.detachVolume({ requestId: rid(), vmid: 4102, slot: "scsi1" });
    await client.deleteVolume({ requestId: rid(), volid });
    await client.destroyVm({ requestId: rid(), vmid: 4102 });
  });

  it("maps the local backend's refusals: snapshots UNAVAILABLE, another owner's VM PERMISSION_DENIED", async () => {
    await provision(4103, "routes-c");
    await expectCode(client.createSnapshot({ requestId: rid(), vmid: 4103, name: "s1" }), Code.Unavailable);
    await expectCode(client.rollbackSnapshot({ requestId: rid(), vmid: 4103, name: "s1" }), Code.Unavailable);
    await expectCode(client.deleteSnapshot({ requestId: rid(), vmid: 4103, name: "s1" }), Code.Unavailable);

    const foreign = createLocalBackend({ sandboxDir, ownerTag: "agentlab-someone-else" });
    await foreign.provision(
      { requestId: "foreign", deadline: Date.now() + 60_000 },
      { vmid: 4104, name: "foreign-vm", network: {}, bootstrapJson: "{}", ownerTag: "agentlab-someone-else" },
    );
    expect((await client.listVms({})).vms.map((vm) => vm.vmid)).not.toContain(4104);
    const all = await client.listVms({ includeForeign: true });
    expect(all.vms.find((vm) => vm.vmid === 4104)?.owned).toBe(false);
    await expectCode(client.destroyVm({ requestId: rid(), vmid: 4104 }), Code.PermissionDenied);
    // Another deployment's sandbox is never adopted, even by its VMID and name.
    await expectCode(
      client.stopVm({ requestId: rid(), vmid: 4104, adopt: { name: "foreign-vm" } }),
      Code.PermissionDenied,
    );
    // An untagged one (as the original AgentLab left them) is adopted once by VMID and name, as the
    // proto says, and is ours from then on.
    untag(4104);
    await client.stopVm({ requestId: rid(), vmid: 4104, adopt: { name: "foreign-vm" } });
    expect((await client.getVmStatus({ vmid: 4104 })).vm?.owned).toBe(true);
  });

  it("ValidateTemplate reports the local backend's answer", async () => {
    expect(await client.validateTemplate({ templateVmid: 9000 })).toMatchObject({ ok: true, problems: [] });
  });

  it("refuses a missing VMID, a missing request id and an unknown local_mode before calling the backend", async () => {
    const before = seen.length;
    await expectCode(client.startVm({ requestId: rid(), vmid: 0 }), Code.InvalidArgument);
    await expectCode(client.startVm({ vmid: 4101 }), Code.InvalidArgument);
    await expectCode(
      client.provisionVm({ requestId: rid(), vmid: 4105, name: "x", network: { localMode: "bridge" } }),
      Code.InvalidArgument,
    );
    expect(seen.length).toBe(before);
  });

  it("passes the client's deadline and signal to the backend, or the RPC's default without one", async () => {
    seen.length = 0;
    await client.getInfo({}, { timeoutMs: 45_000 });
    const withTimeout = seen.find((s) => s.method === "info")?.ctx;
    expect(withTimeout?.deadline).toBeLessThanOrEqual(NOW + 45_000);
    expect(withTimeout?.deadline).toBeGreaterThan(NOW + 30_000);
    expect(withTimeout?.signal).toBeInstanceOf(AbortSignal);

    seen.length = 0;
    await client.getInfo({});
    expect(seen.find((s) => s.method === "info")?.ctx.deadline).toBe(NOW + DEFAULT_DEADLINES_MS.getInfo);

    seen.length = 0;
    await client.startVm({ requestId: "deadline-start", vmid: 4103 }, { timeoutMs: 7_000 });
    const start = seen.find((s) => s.method === "start")?.ctx;
    expect(start?.requestId).toBe("deadline-start");
    expect(start?.deadline).toBeLessThanOrEqual(NOW + 7_000);
    expect(start?.deadline).toBeGreaterThan(NOW);
    await client.stopVm({ requestId: rid(), vmid: 4103 });
  });
});
