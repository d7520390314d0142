/**
 * agentlabd's runner thread, over a real worker thread: a stand-in entry module speaks the message
 * protocol, so start-up failure, a thread that dies on its own, scrapes and close are each seen the
 * way agentlabd sees them. The bundled binary's real runner thread is covered end to end in
 * test/e2e/agentlabd-runner-thread.test.ts.
 */
import type { AgentLabConfig } from "@agentlab/core";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { startRunnerThread } from "../src/runner-thread.js";

const entry = new URL("./fixtures/fake-runner-thread.mjs", import.meta.url);
const logger = pino({ level: "silent" });
const logLines: string[] = [];
const start = (behaviour: string) =>
  startRunnerThread({
    config: { behaviour } as unknown as AgentLabConfig,
    entry,
    metrics: true,
    logger,
    writeLog: (line) => logLines.push(line),
  });

describe("runner thread", () => {
  it("resolves once the runner serves, answers scrapes with the thread's families, and ends on close", async () => {
    const thread = await start("serve");
    // The thread's log lines reach the daemon's one writer, whole.
    expect(logLines).toEqual(['{"level":"info","service":"runner","msg":"runner serving"}\n']);
    expect(await thread.metrics()).toBe("runner_family 1\n");
    expect(await Promise.all([thread.metrics(), thread.metrics()])).toEqual(["runner_family 1\n", "runner_family 1\n"]);
    await thread.close();
    // Asked to stop, it did not die: `died` stays pending.
    const settled = await Promise.race([
      thread.died.then(() => "died"),
      new Promise((r) => setTimeout(() => r("pending"), 50)),
    ]);
    expect(settled).toBe("pending");
    // A scrape after close is empty, not a hang.
    expect(await thread.metrics()).toBe("");
  });

  it("rejects with the runner's own start-up error", async () => {
    await expect(start("fail-at-start")).rejects.toThrow("runner_socket /x is not a Unix socket");
  });

  it("reports a thread that ends on its own, so agentlabd can exit instead of serving without a runner", async () => {
    const thread = await start("crash-after-start");
    const err = await thread.died;
    expect(err.message).toMatch(/the runner thread ended \(exit code 1\)/);
  });
});
