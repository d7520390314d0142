/**
 * The guest runner itself stopped by SIGTERM/SIGINT (systemctl stop, a VM shutting down, a local
 * sandbox stopped): the bundled guest runs as a real process against the fake control and gets real
 * signals; its agent is a real shell with a real `sleep`.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { GuestJobStatus } from "@agentlab/api";
import { afterEach, describe, expect, it } from "vitest";
import { payloadCachePath } from "../src/payload-cache.js";
import { pendingFinalReportPath, readPendingFinalReport } from "../src/pending-final-report.js";
import { type Harness, runHarnessGuest, setupHarness } from "./support/guest-harness.js";
import { startBundledGuest, waitFor } from "./support/guest-process.js";
import { groupAlive, killGroupOnCleanup } from "./support/processes.js";

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/**
 * Survives the first SIGTERM to its group (the trap prints got-term and it sleeps on), so the guest
 * must escalate to SIGKILL after the grace; it also leaves a change for the patch.
 */
const STUBBORN_AGENT = [
  'echo $$ > "$HOME/agent.pid"',
  "trap 'echo got-term' TERM",
  "echo 'edited before the stop' >> README.md",
  "echo agent-started",
  "sleep 60 & wait",
  "sleep 60 & wait",
].join("\n");

function logText(h: Harness): string {
  return h.control.logs.map((l) => l.data).join("");
}

/** The agent's own output: the runner's "agent starting: <command>" line quotes every marker. */
function agentSaid(h: Harness, marker: string): true | undefined {
  return h.control.logs.some((l) => l.stream === "stdout" && l.data.includes(marker)) ? true : undefined;
}

async function setupStubborn(options: Parameters<typeof setupHarness>[1] = {}) {
  const h = await setupHarness(cleanups, { agentCommand: STUBBORN_AGENT, ...options });
  killGroupOnCleanup(join(h.root, "agent.pid"), cleanups);
  return h;
}

function agentGroup(h: Harness): number {
  return Number(readFileSync(join(h.root, "agent.pid"), "utf8"));
}

describe("agentlab-guest stopped by a signal", () => {
  it("SIGTERM mid-job: stops the agent's group (SIGKILL after the grace), uploads the artifacts, reports FAILED naming the signal, exits 143", async () => {
    const h = await setupStubborn();
    const guest = startBundledGuest({ ...h.env, AGENTLAB_KILL_GRACE_SECONDS: "1" }, cleanups);
    await waitFor("the agent to start", () => agentSaid(h, "agent-started"));
    const pgid = agentGroup(h);
    expect(groupAlive(pgid)).toBe(true);

    const signalledAt = Date.now();
    guest.child.kill("SIGTERM");
    const exit = await guest.exited;
    expect(exit, guest.stderr()).toEqual({ code: 143, signal: null });
    // The grace (1 s) plus the patch, two uploads and the report: seconds, not minutes.
    expect(Date.now() - signalledAt).toBeLessThan(10_000);
    expect(groupAlive(pgid)).toBe(false);

    const final = h.control.finalReport();
    expect(final?.status).toBe(GuestJobStatus.FAILED);
    expect(final?.message).toBe("guest runner stopped by SIGTERM while the agent was running");
    expect(final?.exitCode).toBe(-1);
    expect(final?.startCommit).toBe(h.origin.head);
    // The agent ignored the SIGTERM (its trap ran), so it took the SIGKILL.
    expect(agentSaid(h, "got-term")).toBe(true);
    expect(logText(h)).toContain("guest runner received SIGTERM (agent running)");

    // Artifacts went up as for any other end: the bundle (log, report, patch) and the patch.
    expect(h.artifacts.uploads.map((u) => u.path)).toEqual(["agentlab-artifacts.tar.gz", "changes.patch"]);
    expect(final?.artifacts.map((a) => a.path)).toEqual(["agentlab-artifacts.tar.gz", "changes.patch"]);
    expect(h.artifacts.uploads[1]?.data.toString()).toContain("+edited before the stop");
    const bundle = join(h.root, "bundle.tar.gz");
    writeFileSync(bundle, h.artifacts.uploads[0]?.data ?? Buffer.alloc(0));
    const extracted = join(h.root, "extracted");
    mkdirSync(extracted);
    execFileSync("tar", ["-xzf", bundle, "-C", extracted]);
    const report = JSON.parse(readFileSync(join(extracted, "report.json"), "utf8"));
    expect(report).toMatchObject({ status: "FAILED", message: final?.message, exit_code: -1 });
    expect(readFileSync(join(extracted, "agent.log"), "utf8")).toContain("agent-started");

    // Done for good: nothing pending, secrets and cache gone, a later start does nothing.
    expect(existsSync(join(h.runDir, "job-finished.json"))).toBe(true);
    expect(existsSync(pendingFinalReportPath(h.runDir))).toBe(false);
    expect(existsSync(payloadCachePath(h.runDir))).toBe(false);
    expect(existsSync(join(h.runDir, "secrets"))).toBe(false);
  });

  it("SIGINT mid-job: the same, with exit code 130 and the signal named", async () => {
    const h = await setupHarness(cleanups, {
      agentCommand: 'echo $$ > "$HOME/agent.pid"; echo agent-started; sleep 60',
    });
    killGroupOnCleanup(join(h.root, "agent.pid"), cleanups);
    const guest = startBundledGuest(h.env, cleanups);
    await waitFor("the agent to start", () => agentSaid(h, "agent-started"));
    guest.child.kill("SIGINT");
    expect((await guest.exited).code, guest.stderr()).toBe(130);
    expect(groupAlive(agentGroup(h))).toBe(false);
    const final = h.control.finalReport();
    expect(final?.status).toBe(GuestJobStatus.FAILED);
    expect(final?.message).toBe("guest runner stopped by SIGINT while the agent was running");
    expect(h.artifacts.uploads).toHaveLength(2);
  });

  it("a cancel control already asked for stays CANCELED when SIGTERM arrives during the agent's grace", async () => {
    const h = await setupStubborn({ control: { cancelWhenLogIncludes: "agent-started" } });
    const guest = startBundledGuest({ ...h.env, AGENTLAB_KILL_GRACE_SECONDS: "2" }, cleanups);
    // got-term: the cancel reached the guest, which is now waiting out the agent's grace.
    await waitFor("the cancel to stop the agent", () => agentSaid(h, "got-term"));
    guest.child.kill("SIGTERM");
    expect((await guest.exited).code, guest.stderr()).toBe(143);
    expect(groupAlive(agentGroup(h))).toBe(false);
    const final = h.control.finalReport();
    expect(final?.status).toBe(GuestJobStatus.CANCELED);
    expect(final?.message).toBe("agent stopped: the job was canceled; guest runner stopped by SIGTERM (agent running)");
    expect(h.artifacts.uploads).toHaveLength(2);
  });

  it("a second SIGTERM exits 1 at once: the agent's group SIGKILLed, the FAILED report kept for the next start, which resends it", async () => {
    const h = await setupStubborn();
    // A grace far longer than the test: only the second signal can end it in time.
    const guest = startBundledGuest({ ...h.env, AGENTLAB_KILL_GRACE_SECONDS: "120" }, cleanups);
    await waitFor("the agent to start", () => agentSaid(h, "agent-started"));
    const pgid = agentGroup(h);
    guest.child.kill("SIGTERM");
    await waitFor("the agent to get the guest's SIGTERM", () => agentSaid(h, "got-term"));
    const secondAt = Date.now();
    guest.child.kill("SIGTERM");
    expect((await guest.exited).code, guest.stderr()).toBe(1);
    expect(Date.now() - secondAt).toBeLessThan(3_000);
    expect(groupAlive(pgid)).toBe(false);
    expect(guest.stderr()).toContain("exiting at once on a second SIGTERM");

    // Nothing final reached control; the report waits in the run directory, with the payload cache.
    expect(h.control.finalReport()).toBeUndefined();
    const pending = await readPendingFinalReport(h.runDir);
    expect(pending?.status).toBe(GuestJobStatus.FAILED);
    expect(pending?.message).toBe(
      "guest runner stopped by SIGTERM while the agent was running; the guest runner exited at once on a second SIGTERM; artifacts may be missing",
    );
    expect(existsSync(payloadCachePath(h.runDir))).toBe(true);

    // The next start (systemd's restart) only resends it: the agent does not run again.
    expect(await runHarnessGuest(h)).toBe(0);
    expect(h.control.finalReport()?.message).toBe(pending?.message);
    expect(h.control.logs.filter((l) => l.stream === "stdout" && l.data.includes("agent-started"))).toHaveLength(1);
    expect(existsSync(pendingFinalReportPath(h.runDir))).toBe(false);
  });

  it("outside a job (FetchBootstrap retrying) SIGTERM exits 143 at once, reporting nothing", async () => {
    const h = await setupHarness(cleanups, { agentCommand: "true", control: { fetchFailures: 100 } });
    const guest = startBundledGuest(h.env, cleanups);
    // After the first failed fetch the guest waits 2 s before the next one.
    await waitFor("the first FetchBootstrap", () => (h.control.fetches.length > 0 ? true : undefined));
    const signalledAt = Date.now();
    guest.child.kill("SIGTERM");
    expect((await guest.exited).code).toBe(143);
    expect(Date.now() - signalledAt).toBeLessThan(1_500);
    expect(guest.stderr()).toContain("stopped by SIGTERM before a job was fetched");
    expect(h.control.reports).toHaveLength(0);
  });
});
