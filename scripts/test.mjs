#!/usr/bin/env node
// `npm test`: every check CI runs, in order, then the whole vitest suite. Each check counts as one
// test in the closing `N passed, N failed` line, so a failing lint can never hide behind green tests.
//   --checks-only   run the checks, skip vitest
//   any other args  are passed to vitest (e.g. a path filter)
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name) => join(root, "node_modules", ".bin", name);
const args = process.argv.slice(2);
const checksOnly = args.includes("--checks-only");
const vitestArgs = args.filter((a) => a !== "--checks-only");

let passed = 0;
let failed = 0;
const failures = [];

function run(title, command, commandArgs, options = {}) {
  process.stdout.write(`\n== ${title}\n`);
  const result = spawnSync(command, commandArgs, { cwd: root, stdio: "inherit", ...options });
  const ok = result.status === 0;
  record(title, ok);
  return ok;
}

function record(title, ok) {
  if (ok) passed++;
  else {
    failed++;
    failures.push(title);
  }
}

function listFiles(dir) {
  const out = [];
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

/** Regenerates the contracts into a scratch folder and compares with the committed packages/api/src/gen. */
function generatedCodeIsFresh() {
  process.stdout.write("\n== generated code is fresh (buf generate)\n");
  const scratch = mkdtempSync(join(tmpdir(), "agentlab-gen-"));
  try {
    const gen = spawnSync(bin("buf"), ["generate", "-o", scratch], { cwd: root, stdio: "inherit" });
    if (gen.status !== 0) return false;
    const committedDir = join(root, "packages/api/src/gen");
    const freshDir = join(scratch, "packages/api/src/gen");
    const committed = listFiles(committedDir);
    const fresh = listFiles(freshDir);
    const stale = [...new Set([...committed, ...fresh])].filter(
      (f) =>
        !committed.includes(f) ||
        !fresh.includes(f) ||
        !readFileSync(join(committedDir, f)).equals(readFileSync(join(freshDir, f))),
    );
    if (stale.length > 0) {
      process.stdout.write(`stale generated files (run \`npm run generate\` and commit):\n  ${stale.join("\n  ")}\n`);
      return false;
    }
    process.stdout.write(`${fresh.length} generated files match proto/\n`);
    return true;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

run("typecheck (tsc)", bin("tsc"), ["--noEmit", "-p", "."]);
run("format and lint (biome)", bin("biome"), ["check", "."]);
run("buf lint", bin("buf"), ["lint"]);
run("buf breaking (against buf-baseline.binpb)", bin("buf"), ["breaking", "--against", "buf-baseline.binpb"]);
record("generated code is fresh", generatedCodeIsFresh());

/** Seconds since boot, the clock /proc/<pid>/stat start times count in (as ticks of 1/100 s). */
const uptimeSeconds = () => Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);

/**
 * Processes a test left running: started after `sinceUptime`, still alive, and ours by their command
 * line (sandboxes, daemons, the simulator, guests). Each is reported and killed, and the check fails,
 * so a leak shows in CI instead of piling up on developers' machines.
 */
function leftoverProcesses(sinceUptime) {
  const ours = /bwrap|unshare|agentlab|pve-sim|sleep infinity/;
  const found = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (fields[0] === "Z" || Number(fields[19]) / 100 < sinceUptime) continue;
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").join(" ").trim();
      if (ours.test(cmdline)) found.push({ pid: Number(entry), cmdline });
    } catch {
      // exited while we looked
    }
  }
  return found;
}

function noProcessLeftBehind(sinceUptime) {
  process.stdout.write("\n== no test left a process running\n");
  const leftovers = leftoverProcesses(sinceUptime);
  for (const { pid, cmdline } of leftovers) {
    process.stdout.write(`left running, now killed: ${pid} ${cmdline.slice(0, 160)}\n`);
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone already
    }
  }
  if (leftovers.length === 0) process.stdout.write("none\n");
  return leftovers.length === 0;
}

if (!checksOnly) {
  const vitestStartedAt = uptimeSeconds();
  const report = join(mkdtempSync(join(tmpdir(), "agentlab-vitest-")), "report.json");
  process.stdout.write("\n== vitest\n");
  spawnSync(
    bin("vitest"),
    ["run", "--reporter=default", "--reporter=json", `--outputFile.json=${report}`, ...vitestArgs],
    {
      cwd: root,
      stdio: "inherit",
    },
  );
  try {
    const summary = JSON.parse(readFileSync(report, "utf8"));
    passed += summary.numPassedTests;
    failed += summary.numFailedTests;
    // A file that fails to load has no failing test of its own: count it, or it would vanish.
    const brokenFiles = summary.testResults.filter((f) => f.status === "failed" && f.assertionResults.length === 0);
    failed += brokenFiles.length;
    for (const f of brokenFiles) failures.push(`test file failed to load: ${relative(root, f.name)}`);
    if (summary.numTotalTests === 0) {
      failed++;
      failures.push("vitest ran no test");
    }
  } catch (err) {
    failed++;
    failures.push(`vitest produced no report (${err.message})`);
  } finally {
    rmSync(dirname(report), { recursive: true, force: true });
  }
  record("no test left a process running", noProcessLeftBehind(vitestStartedAt));
}

if (failures.length > 0) process.stdout.write(`\nfailed:\n  ${failures.join("\n  ")}\n`);
process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
process.exitCode = failed === 0 ? 0 : 1;
