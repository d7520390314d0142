import { describe, expect, it } from "vitest";
import type { CallContext } from "../../src/backend.js";
import type { PveClient } from "../../src/backends/proxmox-api/pve-client.js";
import { DEFAULT_TASK_POLL, waitForTask } from "../../src/backends/proxmox-api/task-waiter.js";
import type { RuntimeDeps } from "../../src/backends/proxmox-common/runtime-deps.js";

/** The API backend's task polling schedule (reference/proxmox.md §1.4), on a fake client and clock. */
const UPID = "UPID:pve:0000AB12:0012AB34:6B074862:qmclone:9000:root@pam!runner:";

function fakes(runningPolls: number) {
  let now = 1_000_000;
  const sleeps: number[] = [];
  let polls = 0;
  const client: PveClient = {
    async request(_ctx, method, path) {
      expect(method).toBe("GET");
      expect(path).toBe(`/nodes/pve/tasks/${encodeURIComponent(UPID)}/status`);
      polls++;
      return polls > runningPolls ? { status: "stopped", exitstatus: "OK" } : { status: "running" };
    },
    close() {},
  };
  const deps: RuntimeDeps = {
    now: () => now,
    random: () => 1, // the top of the jitter range (real values are < 1): each wait is the full step
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
    log: { warn() {}, info() {} },
  };
  return { client, deps, sleeps, polls: () => polls };
}

const ctx = (ms: number): CallContext => ({ requestId: "task-waiter-test", deadline: 1_000_000 + ms });

describe("API task waiter: poll at once, then back off quickly to once a second", () => {
  it("a task that has already stopped costs one poll and no wait", async () => {
    const f = fakes(0);
    const outcome = await waitForTask(f.client, f.deps, DEFAULT_TASK_POLL, ctx(60_000), UPID, "clone");
    expect(outcome.exitstatus).toBe("OK");
    expect(f.polls()).toBe(1);
    expect(f.sleeps).toEqual([]);
  });

  it("a running task is polled after 20 ms, 50, 125, … up to the 1 s cap", async () => {
    const f = fakes(9);
    await waitForTask(f.client, f.deps, DEFAULT_TASK_POLL, ctx(60_000), UPID, "clone");
    expect(f.polls()).toBe(10);
    expect(f.sleeps).toEqual([20, 50, 125, 313, 781, 1000, 1000, 1000, 1000]);
  });

  it("still ends at the deadline, with the UPID in the error", async () => {
    const f = fakes(Number.POSITIVE_INFINITY);
    await expect(waitForTask(f.client, f.deps, DEFAULT_TASK_POLL, ctx(1_000), UPID, "clone")).rejects.toMatchObject({
      kind: "deadline",
      details: { upid: UPID },
    });
    expect(f.sleeps.reduce((a, b) => a + b, 0)).toBe(1_000);
  });
});
