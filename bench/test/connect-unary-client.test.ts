import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RunnerService } from "@agentlab/api";
import { listen } from "@agentlab/core";
import { createLocalBackend } from "@agentlab/runner/backends/local/local-backend";
import { runnerRoutes } from "@agentlab/runner/runner-routes";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectUnaryClient } from "../src/connect-unary-client.js";

describe("the benchmarks' Connect client, against a real listener on a Unix socket", () => {
  const dir = mkdtempSync(join(tmpdir(), "agentlab-bench-client-"));
  const backend = createLocalBackend({ sandboxDir: join(dir, "sandboxes"), ownerTag: "agentlab-bench" });
  let close: () => Promise<void> = async () => {};
  const socketPath = join(dir, "runner.sock");

  beforeAll(async () => {
    const listener = await listen({
      endpoint: { unix: { path: socketPath } },
      connectRoutes: runnerRoutes({ backend, runnerVersion: "bench-test" }),
    });
    close = () => listener.close();
  });
  afterAll(async () => {
    await close();
    await backend.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("decodes an answer, and reports a refusal with its Connect code and message", async () => {
    const client = connectUnaryClient(socketPath);
    try {
      const info = await client.call(RunnerService.method.getInfo, {});
      expect(info.runnerVersion).toBe("bench-test");
      await expect(client.call(RunnerService.method.startVm, { requestId: "r-1", vmid: 0 })).rejects.toThrow(
        /agentlab\.runner\.v1\.RunnerService\/StartVm failed \(HTTP 400\) invalid_argument: .*vmid/,
      );
    } finally {
      await client.close();
    }
  });
});
