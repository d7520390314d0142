/**
 * deploy/guest/agentlab-guest.service against the guest's own stop behaviour: systemd must signal the
 * guest alone, wait longer than the guest's own bound on a stop, and count a signal exit as clean.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { EXIT_CONFIG } from "../src/guest-main.js";
import { resolveSettings } from "../src/guest-settings.js";
import { signalExitCode } from "../src/guest-stop.js";
import { FORCED_EXIT_MS, STOP_WIND_DOWN_MS } from "../src/job-stop.js";

const UNIT = join(import.meta.dirname, "..", "..", "..", "deploy", "guest", "agentlab-guest.service");
const unitText = readFileSync(UNIT, "utf8");

function directive(key: string): string[] {
  return unitText
    .split("\n")
    .filter((line) => line.startsWith(`${key}=`))
    .map((line) => line.slice(key.length + 1));
}

const hasAnalyze = spawnSync("systemd-analyze", ["--version"]).status === 0;
let scratch = "";
afterEach(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  scratch = "";
});

describe("the guest's systemd unit", () => {
  it("stops the guest alone with SIGTERM and gives it longer than the guest's own bound on a stop", async () => {
    expect(directive("KillMode")).toEqual(["mixed"]);
    expect(directive("KillSignal")).toEqual(["SIGTERM"]);
    const [timeout] = directive("TimeoutStopSec");
    expect(timeout).toMatch(/^\d+s$/);
    const defaultGraceMs = (await resolveSettings({})).killGraceSeconds * 1000;
    const guestBoundMs = defaultGraceMs + STOP_WIND_DOWN_MS + FORCED_EXIT_MS;
    // At least 10 s to spare: the bound is measured from the signal, on a VM that may be busy.
    expect(Number.parseInt(timeout ?? "0", 10) * 1000).toBeGreaterThanOrEqual(guestBoundMs + 10_000);
  });

  it("counts the guest's signal exits as clean and keeps restarting on exit 1 only", () => {
    expect(directive("SuccessExitStatus")).toEqual([`${signalExitCode("SIGINT")} ${signalExitCode("SIGTERM")}`]);
    expect(directive("Restart")).toEqual(["on-failure"]);
    expect(directive("RestartPreventExitStatus")).toEqual([String(EXIT_CONFIG)]);
  });

  it.skipIf(!hasAnalyze)("passes systemd-analyze verify without a warning", () => {
    scratch = mkdtempSync(join(tmpdir(), "agentlab-guest-unit-"));
    // verify checks that every Exec* binary exists: point them at a stub.
    const node = join(scratch, "node");
    writeFileSync(node, "#!/bin/sh\nexit 0\n");
    chmodSync(node, 0o755);
    writeFileSync(join(scratch, "agentlab-guest.service"), unitText.replaceAll("/usr/bin/node", node));
    const run = spawnSync("systemd-analyze", ["verify", "--man=no", join(scratch, "agentlab-guest.service")], {
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(`${run.stdout}${run.stderr}`.trim()).toBe("");
    expect(run.status).toBe(0);
  });
});
