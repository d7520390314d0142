import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createPveSim } from "../src/index.js";
import { pveRequest, until } from "./helpers/pve-request.js";

describe("close()", () => {
  it("aborts running tasks, drops pending answers and timers, refuses new connections, removes the cert dir", async () => {
    const sim = await createPveSim({ timeScale: 1 });
    const clone = (await pveRequest(sim, "POST", "/nodes/pve/qemu/9000/clone", { form: { newid: "100" } })).json
      ?.data as string;
    const unauthorized = pveRequest(sim, "GET", "/version", { token: "root@pam!runner=bad" }).catch((e: Error) => e);
    await until(() => sim.requests().length === 2, "both requests reached the simulator");
    await sim.close();
    const task = sim.state.tasks.get(clone)!;
    expect(task.status).toBe("stopped");
    expect(task.exitstatus).toMatch(/interrupted by signal/);
    expect(await unauthorized).toBeInstanceOf(Error);
    await expect(pveRequest(sim, "GET", "/version")).rejects.toThrow(/ECONNREFUSED/);
    expect(existsSync(sim.caFile)).toBe(false);
    await sim.close();
  });
});
