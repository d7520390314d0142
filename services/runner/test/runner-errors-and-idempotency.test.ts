import { RunnerService } from "@agentlab/api";
import { createErrorMappingInterceptor, GENERIC_INTERNAL_MESSAGE } from "@agentlab/core";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import type { Backend, CallContext, ProvisionSpec, VmInfo } from "../src/backend.js";
import { BackendError, type BackendErrorKind } from "../src/backend-errors.js";
import { RequestIdCache } from "../src/request-id-cache.js";
import { runnerRoutes } from "../src/runner-routes.js";

/**
 * A tiny in-memory Backend: these tests are about the route layer (error mapping, idempotency), so
 * the backend only has to count calls and fail on demand.
 */
class FakeBackend implements Backend {
  calls: string[] = [];
  failWith: BackendError | Error | undefined;
  /** Held open by tests that need a call in flight. */
  gate: Promise<void> | undefined;
  private vms = new Map<number, VmInfo>();

  private async enter(method: string): Promise<void> {
    this.calls.push(method);
    if (this.gate) await this.gate;
    if (this.failWith) throw this.failWith;
  }
  async info() {
    await this.enter("info");
    return {
      kind: "local" as const,
      node: "n",
      version: "v",
      capacity: { cores: 1, memoryMb: 1, runningVms: 0, maxVms: 1 },
    };
  }
  async provision(_ctx: CallContext, spec: ProvisionSpec) {
    await this.enter("provision");
    const vm: VmInfo = { vmid: spec.vmid, name: spec.name, state: "stopped", owned: true, tags: [spec.ownerTag] };
    this.vms.set(spec.vmid, vm);
    return vm;
  }
  async start() {
    await this.enter("start");
  }
  async stop() {
    await this.enter("stop");
  }
  async destroy(_ctx: CallContext, vmid: number) {
    await this.enter("destroy");
    return this.vms.delete(vmid) ? ("destroyed" as const) : ("already_gone" as const);
  }
  async status(_ctx: CallContext, vmid: number) {
    await this.enter("status");
    const vm = this.vms.get(vmid);
    if (!vm) throw new BackendError("not_found", `VM ${vmid} not found`, { vmid });
    return vm;
  }
  async waitGuestIp() {
    await this.enter("waitGuestIp");
    return { ipv4: "10.0.0.2" };
  }
  async listVms() {
    await this.enter("listVms");
    return [...this.vms.values()];
  }
  async snapshotCreate() {
    await this.enter("snapshotCreate");
  }
  async snapshotRollback() {
    await this.enter("snapshotRollback");
  }
  async snapshotDelete() {
    await this.enter("snapshotDelete");
  }
  async volumeCreate() {
    await this.enter("volumeCreate");
    return { volid: "store:vol" };
  }
  async volumeAttach() {
    await this.enter("volumeAttach");
  }
  async volumeDetach() {
    await this.enter("volumeDetach");
  }
  async volumeDelete() {
    await this.enter("volumeDelete");
  }
  async validateTemplate() {
    await this.enter("validateTemplate");
    return { ok: false, problems: ["agent is not enabled"] };
  }
  async close() {}
}

function clientFor(backend: Backend) {
  return createClient(
    RunnerService,
    createRouterTransport(runnerRoutes({ backend, runnerVersion: "test" }), {
      router: { interceptors: [createErrorMappingInterceptor()] },
    }),
  );
}

async function failure(promise: Promise<unknown>): Promise<ConnectError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConnectError);
  return err as ConnectError;
}

const provisionRequest = (requestId: string, name = "vm-a") => ({
  requestId,
  vmid: 200,
  name,
  templateVmid: 9000,
  bootstrapJson: "{}",
  ownerTag: "agentlab-t",
});

describe("backend error kinds → Connect codes", () => {
  const table: Array<[BackendErrorKind, Code]> = [
    ["not_found", Code.NotFound],
    ["already_exists", Code.AlreadyExists],
    ["locked", Code.Aborted],
    ["lock_timeout", Code.Aborted],
    ["not_owned", Code.PermissionDenied],
    ["auth", Code.Unauthenticated],
    ["tls", Code.Unavailable],
    ["unreachable", Code.Unavailable],
    ["unavailable", Code.Unavailable],
    ["deadline", Code.DeadlineExceeded],
    ["invalid_argument", Code.InvalidArgument],
    ["task_failed", Code.Internal],
    ["internal", Code.Internal],
  ];

  it.each(table)("%s → %s, keeping the backend's message", async (kind, code) => {
    const backend = new FakeBackend();
    const message = `hypervisor says: ${kind} happened (VM 200)`;
    backend.failWith = new BackendError(kind, message, { vmid: 200 });
    const err = await failure(clientFor(backend).startVm({ requestId: `r-${kind}`, vmid: 200 }));
    expect(Code[err.code]).toBe(Code[code]);
    // INTERNAL too: a failed task's text is the operator's key information.
    expect(err.rawMessage).toContain(message);
  });

  it("keeps the backend's hint", async () => {
    const backend = new FakeBackend();
    backend.failWith = new BackendError("locked", "VM is locked (clone)", { hint: "wait for the clone" });
    const err = await failure(clientFor(backend).stopVm({ requestId: "r", vmid: 200 }));
    expect(err.rawMessage).toContain("VM is locked (clone)");
    expect(err.rawMessage).toContain("wait for the clone");
  });

  it("hides anything that is not a BackendError behind the generic internal message", async () => {
    const backend = new FakeBackend();
    backend.failWith = new Error("ENOENT /var/lib/agentlab/secret-path");
    const err = await failure(clientFor(backend).getInfo({}));
    expect(err.code).toBe(Code.Internal);
    expect(err.rawMessage).toBe(GENERIC_INTERNAL_MESSAGE);
  });
});

describe("request-id idempotency", () => {
  it("runs a repeated ProvisionVm once and returns the first result", async () => {
    const backend = new FakeBackend();
    const client = clientFor(backend);
    const first = await client.provisionVm(provisionRequest("p-1"));
    const second = await client.provisionVm(provisionRequest("p-1"));
    expect(backend.calls.filter((c) => c === "provision")).toHaveLength(1);
    expect(second).toEqual(first);
  });

  it("joins a call still in flight instead of starting another", async () => {
    const backend = new FakeBackend();
    let release = () => {};
    backend.gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const client = clientFor(backend);
    const a = client.startVm({ requestId: "s-1", vmid: 200 });
    const b = client.startVm({ requestId: "s-1", vmid: 200 });
    release();
    await Promise.all([a, b]);
    expect(backend.calls).toEqual(["start"]);
  });

  it("refuses the same request id with a different body, or on another method", async () => {
    const backend = new FakeBackend();
    const client = clientFor(backend);
    await client.provisionVm(provisionRequest("p-2"));
    const err = await failure(client.provisionVm(provisionRequest("p-2", "vm-b")));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toContain("request_id");
    expect((await failure(client.startVm({ requestId: "p-2", vmid: 200 }))).code).toBe(Code.InvalidArgument);
    expect(backend.calls.filter((c) => c === "provision")).toHaveLength(1);
  });

  it("requires a request id on every mutating RPC", async () => {
    const backend = new FakeBackend();
    const client = clientFor(backend);
    const calls: Array<Promise<unknown>> = [
      client.provisionVm({ ...provisionRequest(""), requestId: "" }),
      client.startVm({ vmid: 200 }),
      client.stopVm({ vmid: 200 }),
      client.destroyVm({ vmid: 200 }),
      client.createSnapshot({ vmid: 200, name: "s" }),
      client.rollbackSnapshot({ vmid: 200, name: "s" }),
      client.deleteSnapshot({ vmid: 200, name: "s" }),
      client.createVolume({ storage: "local", name: "v", sizeGb: 1 }),
      client.attachVolume({ vmid: 200, volid: "local:v", slot: "scsi1" }),
      client.detachVolume({ vmid: 200, slot: "scsi1" }),
      client.deleteVolume({ volid: "local:v" }),
    ];
    for (const call of calls) expect((await failure(call)).code).toBe(Code.InvalidArgument);
    expect(backend.calls).toEqual([]);
  });

  it("does not remember failures: a retry after one does the work again", async () => {
    const backend = new FakeBackend();
    const client = clientFor(backend);
    backend.failWith = new BackendError("unreachable", "connection refused");
    expect((await failure(client.startVm({ requestId: "s-2", vmid: 200 }))).code).toBe(Code.Unavailable);
    backend.failWith = undefined;
    await client.startVm({ requestId: "s-2", vmid: 200 });
    expect(backend.calls).toEqual(["start", "start"]);
  });

  it("serves the non-mutating RPCs without a request id", async () => {
    const backend = new FakeBackend();
    const client = clientFor(backend);
    await client.provisionVm(provisionRequest("p-3"));
    expect((await client.waitGuestIp({ vmid: 200 })).ipv4).toBe("10.0.0.2");
    expect((await client.listVms({})).vms).toHaveLength(1);
    expect(await client.validateTemplate({ templateVmid: 9000 })).toMatchObject({
      ok: false,
      problems: ["agent is not enabled"],
    });
    expect((await client.destroyVm({ requestId: "d-1", vmid: 999 })).alreadyGone).toBe(true);
    expect((await client.destroyVm({ requestId: "d-2", vmid: 200 })).alreadyGone).toBe(false);
    // One backend call each: the outcome comes from destroy itself, not from a status call first.
    expect(backend.calls.filter((c) => c === "destroy" || c === "status")).toEqual(["destroy", "destroy"]);
  });
});

describe("RequestIdCache", () => {
  it("forgets entries after the TTL and evicts the least recently used beyond its size", async () => {
    let now = 0;
    const cache = new RequestIdCache({ maxEntries: 2, ttlMs: 1000, now: () => now });
    let runs = 0;
    const work = async () => ++runs;
    expect(await cache.run("a", "f", work)).toBe(1);
    expect(await cache.run("a", "f", work)).toBe(1);
    now = 1000;
    expect(await cache.run("a", "f", work)).toBe(2);

    await cache.run("b", "f", work); // 3
    await cache.run("a", "f", work); // touch a: b is now the least recently used
    await cache.run("c", "f", work); // 4, evicts b
    expect(cache.size).toBe(2);
    expect(await cache.run("a", "f", work)).toBe(2);
    expect(await cache.run("b", "f", work)).toBe(5);
  });
});
