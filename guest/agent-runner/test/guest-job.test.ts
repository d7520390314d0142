import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { GuestJobStatus } from "@agentlab/api";
import { afterEach, describe, expect, it } from "vitest";
import { git } from "./support/git-fixtures.js";
import {
  BOOTSTRAP_TOKEN,
  ENV_SECRET,
  GIT_TOKEN,
  REPORT_TOKEN,
  runHarnessGuest,
  setupHarness,
  UPLOAD_TOKEN,
} from "./support/guest-harness.js";
import { groupAlive, isAlive } from "./support/processes.js";

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

// The secret is printed in two writes with a pause between them, so it reaches the guest split
// across two chunks of the pipe.
const EDITING_AGENT = [
  "set -e",
  'echo "stdin: $(cat)"',
  'echo "env task: $AGENTLAB_TASK mode=$AGENTLAB_JOB_MODE profile=$AGENTLAB_JOB_PROFILE"',
  'printf "key=%s\\n" "$API_KEY"',
  "printf 'split=sk-live-SECR'; sleep 0.3; printf 'ETVALUE-42 done\\n'",
  'echo "git password: $("$GIT_ASKPASS" Password)" >&2',
  'echo "git user: $("$GIT_ASKPASS" Username)" >&2',
  "echo 'edited by agent' >> README.md",
  "echo 'committed by agent' > committed.txt",
  "git add committed.txt && git commit -q -m 'agent commit'",
  "echo 'staged change' > app.txt && git add app.txt",
  "printf 'untracked\\n' > untracked.txt",
  "printf 'bin\\000ary\\001' > blob.bin",
].join("\n");

describe("agentlab-guest job run", () => {
  it("runs the agent, streams redacted logs, uploads a patch with every change and reports COMPLETED", async () => {
    const h = await setupHarness(cleanups, { agentCommand: EDITING_AGENT });
    const code = await runHarnessGuest(h);
    expect(code).toBe(0);

    const final = h.control.finalReport();
    expect(final?.status).toBe(GuestJobStatus.COMPLETED);
    expect(final?.exitCode).toBe(0);
    expect(final?.startCommit).toBe(h.origin.head);
    expect(final?.finalCommit).toMatch(/^[0-9a-f]{40}$/);
    expect(final?.finalCommit).not.toBe(h.origin.head);
    expect(final?.jobId).toBe("job_0123456789abcdef");
    expect(final?.reportToken).toBe(REPORT_TOKEN);
    expect(h.control.reports[0]?.message).toBe("bootstrap fetched");
    expect(h.control.fetches).toHaveLength(1);
    expect(h.control.fetches[0]?.token).toBe(BOOTSTRAP_TOKEN);

    // Logs: seq from 1 without gaps, the task arrived on stdin and in the environment.
    const seqs = h.control.logs.map((l) => Number(l.seq));
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    const stdout = h.control.logs
      .filter((l) => l.stream === "stdout")
      .map((l) => l.data)
      .join("");
    expect(stdout).toContain("stdin: Improve the README");
    expect(stdout).toContain("env task: Improve the README mode=dev profile=default");
    expect(stdout).toContain("key=[REDACTED]");
    expect(stdout).toContain("split=[REDACTED] done");
    expect(h.control.logs.some((l) => l.stream === "system")).toBe(true);
    const stderr = h.control.logs
      .filter((l) => l.stream === "stderr")
      .map((l) => l.data)
      .join("");
    expect(stderr).toContain("git password: [REDACTED]");
    expect(stderr).toContain("git user: x-access-token");

    // No secret in anything control or artifacts received, though the agent printed them.
    const received = h.control.receivedText() + h.artifacts.receivedText();
    for (const secret of [ENV_SECRET, GIT_TOKEN, REPORT_TOKEN, UPLOAD_TOKEN, BOOTSTRAP_TOKEN]) {
      expect(received).not.toContain(secret);
    }

    // Uploads: the bundle and the patch alone, with the upload token, verified by the server.
    expect(h.artifacts.uploads.map((u) => u.path)).toEqual(["agentlab-artifacts.tar.gz", "changes.patch"]);
    expect(h.artifacts.uploads.every((u) => u.token === UPLOAD_TOKEN)).toBe(true);
    expect(final?.artifacts.map((a) => [a.path, a.mime])).toEqual([
      ["agentlab-artifacts.tar.gz", "application/gzip"],
      ["changes.patch", "text/x-diff"],
    ]);
    for (const [i, artifact] of (final?.artifacts ?? []).entries()) {
      expect(artifact.sha256).toBe(h.artifacts.uploads[i]?.claimedSha256);
      expect(artifact.sizeBytes).toBe(BigInt(h.artifacts.uploads[i]?.data.length ?? -1));
    }

    // The patch applies to a fresh clone at the start commit and reproduces all changes.
    const patch = h.artifacts.uploads[1]?.data ?? Buffer.alloc(0);
    const verify = join(h.root, "verify");
    git(h.root, "clone", "-q", h.origin.dir, verify);
    git(verify, "checkout", "-q", h.origin.head);
    writeFileSync(join(h.root, "changes.patch"), patch);
    git(verify, "apply", "--check", join(h.root, "changes.patch"));
    git(verify, "apply", join(h.root, "changes.patch"));
    expect(readFileSync(join(verify, "README.md"), "utf8")).toContain("edited by agent");
    expect(readFileSync(join(verify, "committed.txt"), "utf8")).toBe("committed by agent\n");
    expect(readFileSync(join(verify, "app.txt"), "utf8")).toBe("staged change\n");
    expect(readFileSync(join(verify, "untracked.txt"), "utf8")).toBe("untracked\n");
    expect(readFileSync(join(verify, "blob.bin"))).toEqual(Buffer.from("bin\0ary\x01", "latin1"));

    // The agent's index and working tree were left alone.
    const status = git(h.repoDir, "status", "--porcelain");
    expect(status).toContain(" M README.md");
    expect(status).toContain("M  app.txt");
    expect(status).toContain("?? untracked.txt");

    // The bundle holds the log, the report and the patch.
    const bundle = join(h.root, "bundle.tar.gz");
    writeFileSync(bundle, h.artifacts.uploads[0]?.data ?? Buffer.alloc(0));
    const listing = execFileSync("tar", ["-tzf", bundle], { encoding: "utf8" }).trim().split("\n");
    expect(listing.sort()).toEqual(["agent.log", "changes.patch", "report.json"]);
    const extracted = join(h.root, "extracted");
    mkdirSync(extracted);
    execFileSync("tar", ["-xzf", bundle, "-C", extracted]);
    const report = JSON.parse(readFileSync(join(extracted, "report.json"), "utf8"));
    expect(report).toMatchObject({
      job_id: "job_0123456789abcdef",
      status: "COMPLETED",
      exit_code: 0,
      start_commit: h.origin.head,
      final_commit: final?.finalCommit,
      mode: "dev",
    });
    expect(typeof report.duration_seconds).toBe("number");
    expect(readFileSync(join(extracted, "changes.patch"))).toEqual(patch);
    const agentLog = readFileSync(join(extracted, "agent.log"), "utf8");
    expect(agentLog).toContain("split=[REDACTED] done");
    expect(agentLog).not.toContain(ENV_SECRET);

    // Secrets are wiped; the job is marked finished.
    expect(existsSync(join(h.runDir, "secrets"))).toBe(false);
    expect(existsSync(join(h.runDir, "bootstrap-payload.json"))).toBe(false);
    expect(existsSync(join(h.runDir, "job-finished.json"))).toBe(true);
  });

  it("reports FAILED with the exit code and the log of a failing agent", async () => {
    const h = await setupHarness(cleanups, { agentCommand: "echo 'about to fail' >&2; exit 3" });
    expect(await runHarnessGuest(h)).toBe(0);
    const final = h.control.finalReport();
    expect(final?.status).toBe(GuestJobStatus.FAILED);
    expect(final?.exitCode).toBe(3);
    expect(final?.message).toContain("agent exited with code 3");
    expect(h.control.logs.some((l) => l.stream === "stderr" && l.data.includes("about to fail"))).toBe(true);
    expect(h.artifacts.uploads).toHaveLength(2);
  });

  it("runs the repository's .agentlab/run.sh when the job has no command, and fails clearly without one", async () => {
    const withScript = await setupHarness(cleanups, {
      originFiles: { ".agentlab/run.sh": '#!/bin/sh\necho "from run.sh: $AGENTLAB_JOB_ID"\n' },
    });
    expect(await runHarnessGuest(withScript)).toBe(0);
    expect(withScript.control.finalReport()?.status).toBe(GuestJobStatus.COMPLETED);
    expect(withScript.control.logs.map((l) => l.data).join("")).toContain("from run.sh: job_0123456789abcdef");

    const without = await setupHarness(cleanups);
    expect(await runHarnessGuest(without)).toBe(0);
    const final = without.control.finalReport();
    expect(final?.status).toBe(GuestJobStatus.FAILED);
    expect(final?.message).toContain(".agentlab/run.sh");
    expect(final?.message).toContain("agent_command");
  });

  it("kills a hanging agent at the TTL and reports TIMEOUT with exit code -1", async () => {
    const h = await setupHarness(cleanups, { agentCommand: 'echo $$ > "$HOME/agent.pid"; echo started; sleep 60' });
    expect(await runHarnessGuest(h, { agentTtlMs: 300 })).toBe(0);
    const final = h.control.finalReport();
    expect(final?.status).toBe(GuestJobStatus.TIMEOUT);
    expect(final?.exitCode).toBe(-1);
    expect(final?.message).toContain("timed out");
    const pgid = Number(readFileSync(join(h.root, "agent.pid"), "utf8"));
    expect(groupAlive(pgid)).toBe(false);
  });

  it("stops the agent's whole process group when control asks to cancel, and reports CANCELED", async () => {
    const h = await setupHarness(cleanups, {
      agentCommand: [
        'echo $$ > "$HOME/agent.pid"',
        "trap '' TERM", // ignores SIGTERM: the guest must escalate to SIGKILL
        'sleep 60 & echo $! > "$HOME/child.pid"',
        "echo agent-started",
        "wait",
      ].join("\n"),
      control: { cancelWhenLogIncludes: "agent-started" },
    });
    expect(await runHarnessGuest(h)).toBe(0);
    const final = h.control.finalReport();
    expect(final?.status).toBe(GuestJobStatus.CANCELED);
    expect(final?.exitCode).toBe(-1);
    const pgid = Number(readFileSync(join(h.root, "agent.pid"), "utf8"));
    const child = Number(readFileSync(join(h.root, "child.pid"), "utf8"));
    expect(isAlive(child)).toBe(false);
    expect(groupAlive(pgid)).toBe(false);
    // Artifacts are still uploaded for a canceled job.
    expect(h.artifacts.uploads).toHaveLength(2);
  });
});
