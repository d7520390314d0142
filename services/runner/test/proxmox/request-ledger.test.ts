import { describe, expect, it } from "vitest";
import { createRequestLedger } from "../../src/backends/proxmox-common/request-ledger.js";

const HOUR = 60 * 60 * 1000;

describe("the provision request ledger", () => {
  it("joins a request still running and answers a retry after success from memory", async () => {
    const ledger = createRequestLedger(() => 0);
    let runs = 0;
    let finish: (vm: string) => void = () => {};
    const work = () => {
      runs++;
      return new Promise<string>((resolve) => {
        finish = resolve;
      });
    };
    const first = ledger.run("req-1", 300, work);
    const joined = ledger.run("req-1", 300, work);
    finish("vm-300");
    expect(await first).toBe("vm-300");
    expect(await joined).toBe("vm-300");
    expect(await ledger.run("req-1", 300, work)).toBe("vm-300");
    expect(runs).toBe(1);
  });

  it("runs a request again after it failed, and refuses its id for another VMID", async () => {
    const ledger = createRequestLedger(() => 0);
    await expect(ledger.run("req-2", 301, () => Promise.reject(new Error("clone failed")))).rejects.toThrow(
      "clone failed",
    );
    expect(await ledger.run("req-2", 301, async () => "second try")).toBe("second try");
    await expect(ledger.run("req-2", 302, async () => "other")).rejects.toMatchObject({ kind: "invalid_argument" });
  });

  it("forgets a request an hour after it settled, never one still running", async () => {
    let now = 0;
    const ledger = createRequestLedger(() => now);
    let runs = 0;
    const quick = async () => ++runs;
    let finishSlow: () => void = () => {};
    const slow = ledger.run(
      "slow",
      310,
      () =>
        new Promise<number>((resolve) => {
          finishSlow = () => resolve(-1);
        }),
    );
    await ledger.run("old", 311, quick);
    // A request that failed and ran again later is remembered from its second run.
    now = 30 * 60 * 1000;
    await ledger.run("retried", 312, () => Promise.reject(new Error("first attempt"))).catch(() => undefined);
    now = 50 * 60 * 1000;
    await ledger.run("retried", 312, quick);

    now = HOUR + 1;
    expect(await ledger.run("old", 311, quick)).toBe(runs); // forgotten: it ran again
    expect(runs).toBe(3);
    expect(await ledger.run("retried", 312, quick)).toBe(2); // its second run settled 10 min before the hour
    // Still running past the hour: a retry joins it rather than cloning a second time.
    const joined = ledger.run("slow", 310, quick);
    finishSlow();
    expect(await joined).toBe(-1);
    expect(await slow).toBe(-1);
  });
});
