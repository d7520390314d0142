/**
 * The stop request and its precedence rules, with the guest run in-process and stopped through an
 * injected GuestStop (the real-signal cases are in guest-signals.test.ts).
 */
import { spawn as nodeSpawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { GuestJobStatus } from "@agentlab/api";
import { afterEach, describe, expect, it } from "vitest";
import type { Spawner } from "../src/git-command.js";
import { GuestStop, signalExitCode } from "../src/guest-stop.js";
import { type Harness, runHarnessGuest, setupHarness } from "./support/guest-harness.js";
import { waitFor } from "./support/guest-process.js";
import { groupAlive, isAlive, killGroupOnCleanup } from "./support/processes.js";

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function agentSaid(h: Harness, marker: string): true | undefined {
  return h.control.logs.some((l) => l.stream === "stdout" && l.data.includes(marker)) ? true : undefined;
}

describe("GuestStop", () => {
  it("the first signal asks to stop, a second forces; both reach late listeners; a removed listener hears nothing", () => {
    const stop = new GuestStop();
    const heard: string[] = [];
    const off = stop.onStop((s) => heard.push(`removed ${s}`));
    stop.onStop((s) => heard.push(`stop ${s}`));
    off();
    stop.receive("SIGTERM");
    stop.onStop((s) => heard.push(`late stop ${s}`));
    stop.onForce((why) => heard.push(`force: ${why}`));
    stop.receive("SIGINT");
    stop.receive("SIGTERM");
    stop.onForce((why) => heard.push(`late force: ${why}`));
    expect(heard).toEqual([
      "stop SIGTERM",
      "late stop SIGTERM",
      "force: a second SIGINT",
      "late force: a second SIGINT",
    ]);
    expect(stop.signal).toBe("SIGTERM");
    expect(signalExitCode("SIGTERM")).toBe(143);
    expect(signalExitCode("SIGINT")).toBe(130);
  });
});

describe("agentlab-guest stopped in-process", () => {
  it("a TIMEOUT already reached stays TIMEOUT when the stop comes during the agent's grace", async () => {
    const h = await setupHarness(cleanups, {
      agentCommand: [
        'echo $$ > "$HOME/agent.pid"',
        "trap 'echo got-term' TERM",
        "echo agent-started",
        "sleep 60 & wait",
        "sleep 60 & wait",
      ].join("\n"),
    });
    killGroupOnCleanup(join(h.root, "agent.pid"), cleanups);
    const stop = new GuestStop();
    const run = runHarnessGuest(h, { agentTtlMs: 300, killGraceMs: 1_500 }, { stop });
    // got-term: the TTL's SIGTERM reached the agent, which now waits out its grace.
    await waitFor("the TTL to stop the agent", () => agentSaid(h, "got-term"));
    stop.receive("SIGTERM");
    expect(await run).toBe(143);
    const final = h.control.finalReport();
    expect(final?.status).toBe(GuestJobStatus.TIMEOUT);
    expect(final?.message).toBe(
      "agent timed out after 0 s (job TTL) and was killed; guest runner stopped by SIGTERM (agent running)",
    );
    expect(groupAlive(Number(readFileSync(join(h.root, "agent.pid"), "utf8")))).toBe(false);
    expect(h.artifacts.uploads).toHaveLength(2);
  });

  it("a stop during the clone kills git, skips the agent and the artifacts, and reports FAILED at once", async () => {
    const h = await setupHarness(cleanups, { agentCommand: 'echo ran > "$HOME/agent-ran"' });
    const fetchPid = join(h.root, "fetch.pid");
    // The fetch hangs (a sleep in git's place) until the stop kills it.
    const spawn = ((command: string, args: string[], options: object) =>
      command === "git" && args.includes("fetch")
        ? nodeSpawn("/bin/sh", ["-c", 'echo $$ > "$0"; exec sleep 30', fetchPid], options)
        : nodeSpawn(command, args, options)) as Spawner;
    cleanups.push(() => {
      if (existsSync(fetchPid)) {
        try {
          process.kill(Number(readFileSync(fetchPid, "utf8")), "SIGKILL");
        } catch {}
      }
    });
    const stop = new GuestStop();
    const run = runHarnessGuest(h, {}, { stop, spawn });
    const pid = await waitFor("the fetch to start", () =>
      existsSync(fetchPid) && readFileSync(fetchPid, "utf8").trim()
        ? Number(readFileSync(fetchPid, "utf8"))
        : undefined,
    );
    stop.receive("SIGTERM");
    expect(await run).toBe(143);
    expect(isAlive(pid)).toBe(false);
    expect(existsSync(join(h.root, "agent-ran"))).toBe(false);
    const final = h.control.finalReport();
    expect(final?.status).toBe(GuestJobStatus.FAILED);
    expect(final?.message).toBe("guest runner stopped by SIGTERM before the agent started (cloning the repository)");
    expect(final?.exitCode).toBe(-1);
    expect(h.artifacts.uploads).toHaveLength(0);
    const system = h.control.logs.filter((l) => l.stream === "system").map((l) => l.data);
    expect(system.join("\n")).toContain("guest runner received SIGTERM (cloning the repository)");
    expect(existsSync(join(h.runDir, "job-finished.json"))).toBe(true);
  });
});
