import { spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasTool } from "./has-tool.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const unitDir = join(root, "deploy", "systemd");
const units = [
  "agentlab-control.service",
  "agentlab-runner.service",
  "agentlab-artifacts.service",
  "agentlabd.service",
  "agentlab.target",
];
const binaries = ["agentlab-control", "agentlab-runner", "agentlab-artifacts", "agentlabd"];
const noAnalyze = !hasTool("systemd-analyze");

let scratch = "";

/**
 * Copies the units into a scratch directory with /usr/bin/agentlab* pointed at stub executables
 * there: `systemd-analyze verify` checks that every Exec* command exists and is executable.
 */
function stageUnits(): string {
  const dir = mkdtempSync(join(tmpdir(), "agentlab-units-"));
  mkdirSync(join(dir, "bin"));
  for (const binary of binaries) {
    const stub = join(dir, "bin", binary);
    writeFileSync(stub, "#!/bin/sh\nexit 0\n");
    chmodSync(stub, 0o755);
  }
  for (const unit of units) {
    const text = readFileSync(join(unitDir, unit), "utf8").replaceAll(
      "/usr/bin/agentlab",
      join(dir, "bin", "agentlab"),
    );
    writeFileSync(join(dir, unit), text);
  }
  return dir;
}

/**
 * systemd 252's verify exits 0 on an unknown directive or an unparsable value and only logs a
 * warning, so anything it prints counts as a failure.
 */
function verify(dir: string, unit: string): { status: number | null; output: string } {
  const run = spawnSync("systemd-analyze", ["verify", "--man=no", join(dir, unit)], {
    cwd: dir,
    encoding: "utf8",
    timeout: 30_000,
  });
  return { status: run.status, output: `${run.stdout}${run.stderr}`.trim() };
}

function unitText(unit: string): string {
  return readFileSync(join(unitDir, unit), "utf8");
}

/** Values of one directive in a unit (every occurrence, comments ignored). */
function directive(unit: string, key: string): string[] {
  return unitText(unit)
    .split("\n")
    .filter((line) => line.startsWith(`${key}=`))
    .map((line) => line.slice(key.length + 1));
}

describe("systemd units", () => {
  beforeAll(() => {
    if (!noAnalyze) scratch = stageUnits();
  });
  afterAll(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it("ships exactly the expected units", () => {
    expect(readdirSync(unitDir).sort()).toEqual([...units].sort());
  });

  it.skipIf(noAnalyze).each(units)("%s passes systemd-analyze verify without a warning", (unit) => {
    const result = verify(scratch, unit);
    expect(result.output).toBe("");
    expect(result.status).toBe(0);
  });

  it.skipIf(noAnalyze)("the check itself catches an unknown directive and a bad value", () => {
    const bad = join(scratch, "agentlab-bad.service");
    copyFileSync(join(scratch, "agentlab-control.service"), bad);
    writeFileSync(
      bad,
      `${readFileSync(bad, "utf8").replace("[Service]\n", "[Service]\nRestartt=always\nKillMode=sometimes\n")}`,
    );
    const result = verify(scratch, "agentlab-bad.service");
    rmSync(bad);
    expect(result.output).toMatch(/Restartt/);
    expect(result.output).toMatch(/kill mode.*sometimes/);
  });

  it("every service reloads with SIGHUP, restarts on failure and reads the default config", () => {
    for (const unit of units.filter((u) => u.endsWith(".service"))) {
      expect(directive(unit, "ExecReload"), unit).toEqual(["/bin/kill -HUP $MAINPID"]);
      expect(directive(unit, "Restart"), unit).toEqual(["on-failure"]);
      expect(directive(unit, "Group"), unit).toEqual(["agentlab"]);
      expect(directive(unit, "UMask"), unit).toEqual(["0007"]);
      expect(directive(unit, "ExecStart")[0], unit).toMatch(
        /^\/usr\/bin\/agentlab[-a-z]* --config \/etc\/agentlab\/config\.yaml$/,
      );
      expect(directive(unit, "RuntimeDirectory"), unit).toEqual(["agentlab"]);
      expect(directive(unit, "RuntimeDirectoryMode"), unit).toEqual(["0750"]);
      // The three split services share /run/agentlab: stopping one must not delete the others' sockets.
      expect(directive(unit, "RuntimeDirectoryPreserve"), unit).toEqual(["yes"]);
      expect(directive(unit, "LogsDirectoryMode"), unit).toEqual(["0750"]);
    }
  });

  it("confines control and artifacts, and leaves qm-breaking options off where the runner lives", () => {
    for (const unit of ["agentlab-control.service", "agentlab-artifacts.service"]) {
      expect(directive(unit, "NoNewPrivileges"), unit).toEqual(["yes"]);
      expect(directive(unit, "PrivateTmp"), unit).toEqual(["yes"]);
      expect(directive(unit, "ProtectSystem"), unit).toEqual(["strict"]);
      expect(directive(unit, "ProtectHome"), unit).toEqual(["yes"]);
      expect(directive(unit, "CapabilityBoundingSet"), unit).toEqual([""]);
      expect(directive(unit, "StateDirectoryMode"), unit).toEqual(["0750"]);
    }
    for (const unit of ["agentlab-runner.service", "agentlabd.service"]) {
      expect(directive(unit, "NoNewPrivileges"), unit).toEqual([]);
      expect(directive(unit, "PrivateTmp"), unit).toEqual([]);
      expect(unitText(unit), unit).toMatch(/ipcc_send_rec/);
      expect(directive(unit, "KillMode"), unit).toEqual(["process"]);
      expect(directive(unit, "After")[0], unit).toMatch(/pve-cluster\.service/);
      expect(directive(unit, "Wants")[0], unit).toMatch(/pve-cluster\.service/);
      expect(directive(unit, "Requires"), unit).toEqual([]);
    }
  });

  it("orders control first and keeps the single-process install exclusive of the split one", () => {
    expect(directive("agentlab-control.service", "Before")[0]).toMatch(
      /agentlab-runner\.service.*agentlab-artifacts\.service/,
    );
    expect(directive("agentlab-runner.service", "After")[0]).toMatch(/agentlab-control\.service/);
    expect(directive("agentlab-artifacts.service", "After")[0]).toMatch(/agentlab-control\.service/);
    const conflicts = directive("agentlabd.service", "Conflicts")[0] ?? "";
    for (const unit of [
      "agentlab-control.service",
      "agentlab-runner.service",
      "agentlab-artifacts.service",
      "agentlab.target",
    ]) {
      expect(conflicts).toContain(unit);
    }
    for (const unit of ["agentlab-control.service", "agentlab-runner.service", "agentlab-artifacts.service"]) {
      expect(directive(unit, "Conflicts"), unit).toEqual(["agentlabd.service"]);
      expect(directive(unit, "PartOf"), unit).toEqual(["agentlab.target"]);
      expect(directive(unit, "WantedBy"), unit).toEqual(["agentlab.target"]);
    }
  });
});
