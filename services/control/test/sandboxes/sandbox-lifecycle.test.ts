import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { SandboxSelectorSchema, SandboxState } from "@agentlab/api";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type ControlHarness, startControlHarness } from "../support/control-harness.js";

const byName = (name: string) => create(SandboxSelectorSchema, { selector: { case: "name", value: name } });
const byVmid = (vmid: number) => create(SandboxSelectorSchema, { selector: { case: "vmid", value: vmid } });

async function codeOf(promise: Promise<unknown>): Promise<Code | undefined> {
  try {
    await promise;
    return undefined;
  } catch (err) {
    return err instanceof ConnectError ? err.code : undefined;
  }
}

describe("sandbox lifecycle through control and a real local runner", () => {
  let h: ControlHarness;
  beforeEach(async () => {
    h = await startControlHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it("creates a sandbox that is READY, finds it by name and VMID, stops, starts and destroys it", async () => {
    const { sandbox } = await h.clients.sandboxes.createSandbox({ profile: "local-test", name: "test-upgrade" });
    expect(sandbox?.state).toBe(SandboxState.READY);
    expect(sandbox?.vmid).toBe(1000);
    expect(sandbox?.ip).toBe("127.0.0.1");
    expect(sandbox?.owned).toBe(true);
    expect(sandbox?.backend).toBe("local");

    const shown = await h.clients.sandboxes.getSandbox({ sandbox: byName("test-upgrade") });
    expect(shown.sandbox?.vmid).toBe(1000);
    expect((await h.clients.sandboxes.getSandbox({ sandbox: byVmid(1000) })).sandbox?.name).toBe("test-upgrade");

    const listed = await h.clients.sandboxes.listSandboxes({});
    expect(listed.sandboxes.map((s) => s.name)).toEqual(["test-upgrade"]);

    expect((await h.clients.sandboxes.stopSandbox({ sandbox: byName("test-upgrade") })).sandbox?.state).toBe(
      SandboxState.STOPPED,
    );
    expect((await h.clients.sandboxes.startSandbox({ sandbox: byName("test-upgrade") })).sandbox?.state).toBe(
      SandboxState.READY,
    );

    const destroyed = await h.clients.sandboxes.destroySandbox({ sandbox: byName("test-upgrade") });
    expect(destroyed.sandbox?.state).toBe(SandboxState.DESTROYED);
    expect(destroyed.sandbox?.terminationReason).toBe("destroyed by user");
    expect(existsSync(join(h.config.local_sandbox_dir, "1000"))).toBe(false);
    expect((await h.clients.sandboxes.listSandboxes({})).sandboxes).toHaveLength(0);
    expect((await h.clients.sandboxes.listSandboxes({ includeDestroyed: true })).sandboxes).toHaveLength(1);

    const events = await h.clients.events.listEvents({ filter: { sandboxVmid: 1000, kinds: ["sandbox.state"] } });
    expect(events.events.map((e) => e.msg.split(":")[0])).toEqual([
      "REQUESTED -> PROVISIONING",
      "PROVISIONING -> BOOTING",
      "BOOTING -> READY",
      "READY -> STOPPED",
      "STOPPED -> BOOTING",
      "BOOTING -> READY",
      "READY -> DESTROYED",
    ]);
  });

  it("boots with one runner call, and still boots through a runner that predates wait_guest_ip", async () => {
    const calls: string[] = [];
    const counting: Interceptor = (next) => async (req) => {
      calls.push(req.method.name);
      return next(req);
    };
    // A runner from before the field ignores it and answers StartVm without an address.
    const older: Interceptor = (next) => async (req) => {
      const res = await next(req);
      if (req.method.name === "StartVm" && !res.stream) (res.message as { address?: unknown }).address = undefined;
      return res;
    };
    for (const [interceptors, expected] of [
      [[counting], ["ProvisionVm", "StartVm"]],
      [
        [counting, older],
        ["ProvisionVm", "StartVm", "WaitGuestIp"],
      ],
    ] as const) {
      const harness = await startControlHarness({ runnerInterceptors: [...interceptors] });
      try {
        calls.length = 0;
        const { sandbox } = await harness.clients.sandboxes.createSandbox({ profile: "local-test" });
        expect(sandbox?.state).toBe(SandboxState.READY);
        expect(sandbox?.ip).toBe("127.0.0.1");
        expect(calls).toEqual(expected);
        // StartSandbox of a stopped sandbox boots the same way.
        await harness.clients.sandboxes.stopSandbox({ sandbox: byVmid(sandbox?.vmid ?? 0) });
        calls.length = 0;
        const started = await harness.clients.sandboxes.startSandbox({ sandbox: byVmid(sandbox?.vmid ?? 0) });
        expect(started.sandbox?.ip).toBe("127.0.0.1");
        expect(calls).toEqual(expected.slice(1));
      } finally {
        await harness.close();
      }
    }
  });

  it("refuses duplicate live names, all-digit names, unknown profiles and bad TTLs with clear codes", async () => {
    await h.clients.sandboxes.createSandbox({ profile: "local-test", name: "dup" });
    expect(await codeOf(h.clients.sandboxes.createSandbox({ profile: "local-test", name: "dup" }))).toBe(
      Code.AlreadyExists,
    );
    expect(await codeOf(h.clients.sandboxes.createSandbox({ profile: "local-test", name: "12345" }))).toBe(
      Code.InvalidArgument,
    );
    expect(await codeOf(h.clients.sandboxes.createSandbox({ profile: "nope" }))).toBe(Code.NotFound);
    expect(await codeOf(h.clients.sandboxes.createSandbox({ profile: "local-test", ttlMinutes: 0 }))).toBe(
      Code.InvalidArgument,
    );
    expect(await codeOf(h.clients.sandboxes.getSandbox({ sandbox: byName("missing") }))).toBe(Code.NotFound);
    // A destroyed name can be used again.
    await h.clients.sandboxes.destroySandbox({ sandbox: byName("dup") });
    const again = await h.clients.sandboxes.createSandbox({ profile: "local-test", name: "dup" });
    expect(again.sandbox?.state).toBe(SandboxState.READY);
  });

  it("returns the same sandbox for a retried idempotency key", async () => {
    const a = await h.clients.sandboxes.createSandbox({ profile: "local-test", idempotencyKey: "k1" });
    const b = await h.clients.sandboxes.createSandbox({ profile: "local-test", idempotencyKey: "k1" });
    expect(b.sandbox?.vmid).toBe(a.sandbox?.vmid);
    expect((await h.clients.sandboxes.listSandboxes({})).sandboxes).toHaveLength(1);
  });

  it("expires leases with the clock: TIMEOUT then DESTROYED, keepalive or not", async () => {
    const { sandbox } = await h.clients.sandboxes.createSandbox({
      profile: "local-test",
      ttlMinutes: 5,
      keepalive: true,
    });
    const { expireLeases } = await import("../../src/loops/lease-expiry.js");
    const deps = { db: h.app.db, bus: h.app.bus, clock: h.app.clock, lifecycle: h.app.lifecycle, logger: silent };
    expect(await expireLeases(deps)).toEqual([]);
    h.clock.advance(6 * 60_000);
    expect(await expireLeases(deps)).toEqual([sandbox?.vmid]);
    const after = await h.clients.sandboxes.getSandbox({ sandbox: byVmid(sandbox?.vmid ?? 0) });
    expect(after.sandbox?.state).toBe(SandboxState.DESTROYED);
    expect(after.sandbox?.terminationReason).toBe("lease expired");
  });

  it("renews a lease and refuses renewal of a destroyed sandbox", async () => {
    const { sandbox } = await h.clients.sandboxes.createSandbox({ profile: "local-test", name: "lease" });
    const renewed = await h.clients.sandboxes.renewLease({ sandbox: byName("lease"), ttlMinutes: 120 });
    expect(renewed.sandbox?.leaseExpiresAt?.seconds).toBe(BigInt(h.clock.now().getTime() / 1000 + 7200));
    await h.clients.sandboxes.destroySandbox({ sandbox: byVmid(sandbox?.vmid ?? 0) });
    expect(await codeOf(h.clients.sandboxes.renewLease({ sandbox: byVmid(sandbox?.vmid ?? 0), ttlMinutes: 5 }))).toBe(
      Code.FailedPrecondition,
    );
  });

  it("reconciles: a VM gone behind control's back becomes DESTROYED; dry-run changes nothing", async () => {
    const { sandbox } = await h.clients.sandboxes.createSandbox({ profile: "local-test", name: "gone" });
    const vmid = sandbox?.vmid ?? 0;
    await h.backend.destroy({ requestId: "behind-our-back", deadline: Date.now() + 30_000 }, vmid);
    const dry = await h.clients.sandboxes.reconcileSandboxes({ dryRun: true });
    expect(dry.actions.map((a) => [a.vmid, a.action])).toEqual([[vmid, "mark_destroyed"]]);
    expect((await h.clients.sandboxes.getSandbox({ sandbox: byVmid(vmid) })).sandbox?.state).toBe(SandboxState.READY);
    await h.clients.sandboxes.reconcileSandboxes({ dryRun: false });
    expect((await h.clients.sandboxes.getSandbox({ sandbox: byVmid(vmid) })).sandbox?.state).toBe(
      SandboxState.DESTROYED,
    );
  });

  it("prunes ended sandboxes and leaves live ones", async () => {
    const live = await h.clients.sandboxes.createSandbox({ profile: "local-test", name: "live" });
    const ended = await h.clients.sandboxes.createSandbox({ profile: "local-test", name: "ended" });
    await h.clients.sandboxes.stopSandbox({ sandbox: byName("ended") });
    const dry = await h.clients.sandboxes.pruneSandboxes({ dryRun: true });
    expect(dry.vmids).toEqual([ended.sandbox?.vmid]);
    const done = await h.clients.sandboxes.pruneSandboxes({ dryRun: false });
    expect(done.count).toBe(1);
    expect((await h.clients.sandboxes.getSandbox({ sandbox: byName("live") })).sandbox?.state).toBe(
      live.sandbox?.state,
    );
    expect(readdirSync(h.config.local_sandbox_dir).filter((d) => /^\d+$/.test(d))).toEqual([
      String(live.sandbox?.vmid),
    ]);
  });
});

const silent = { info() {}, warn() {}, error() {}, debug() {} } as never;
