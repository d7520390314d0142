/**
 * Jobs end to end on the local backend: agentlabd as a real process, the CLI binary over its Unix
 * sockets, the guest runner in a real namespace sandbox, a real git repository. Each case follows a
 * job from `job run` to its artifacts and its destroyed sandbox.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SANDBOX_GUEST_BUNDLE, SANDBOX_GUEST_NODE } from "@agentlab/runner/local-sandbox-endpoints";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { processesOf, processesWithCommand } from "./support/host-processes.js";
import {
  jobEvents,
  queueJob,
  showJob,
  until,
  waitForFinalJob,
  waitForJob,
  waitForSandboxDestroyed,
} from "./support/job-waits.js";
import { type JobsDeployment, startJobsDeployment } from "./support/jobs-deployment.js";
import { EDITING_AGENT, git } from "./support/scratch-repo.js";
import { expectSecretNowhere, SECRET_BUNDLE, SECRET_VALUE, SECRETS_AGENT } from "./support/secret-checks.js";

describe("jobs on the local backend", () => {
  let d: JobsDeployment;
  let scratch: string;

  beforeAll(async () => {
    d = await startJobsDeployment({
      backend: "local",
      secrets: { "e2e-secrets": SECRET_BUNDLE },
      // A cancel reaches a quiet guest on its next heartbeat, every third of this (100 s by default).
      // Debug logging: the secrets case checks everything agentlabd writes.
      config: { guest_heartbeat_timeout: "9s", reconcile_interval: "1s", log_level: "debug" },
    });
    scratch = mkdtempSync(join(tmpdir(), "agentlab-e2e-jobs-local-out-"));
  });

  afterAll(async () => {
    await d?.close();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it("job run → COMPLETED, exit 0; the patch applies on a fresh clone; the bundle lists log, report and patch; the sandbox is destroyed and its directory gone", async () => {
    const run = await d.cli([
      "job",
      "run",
      "--repo",
      d.repo.path,
      "--task",
      "Make greet.sh greet the name it is given",
      "--profile",
      d.profile,
      "--agent-command",
      EDITING_AGENT,
      "--follow",
    ]);
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    const jobId = /job (job_[0-9a-f]{16}) queued/.exec(run.stdout)?.[1];
    expect(jobId, run.stdout).toBeDefined();
    // The agent's own output came through the follow stream.
    expect(run.stdout).toContain("done: greet.sh takes a name now");

    const job = await showJob(d, jobId!);
    expect(job.status).toBe("COMPLETED");
    expect(job.result?.exit_code ?? 0).toBe(0);
    expect(job.result?.start_commit).toBe(d.repo.head);
    const vmid = job.sandbox_vmid!;
    expect(vmid).toBeGreaterThan(0);

    const listed = await d.cliJson<Array<{ path: string }>>(["job", "artifacts", jobId!]);
    expect(listed.map((a) => a.path).sort()).toEqual(["agentlab-artifacts.tar.gz", "changes.patch"]);

    // The patch, downloaded (and verified by the CLI), applies to a fresh clone at the start commit.
    const patchFile = join(scratch, "changes.patch");
    const download = await d.cli([
      "job",
      "artifacts",
      "download",
      jobId!,
      "--path",
      "changes.patch",
      "--out",
      patchFile,
    ]);
    expect(download.code, download.stderr).toBe(0);
    expect(readFileSync(patchFile, "utf8")).toContain("greet.sh");
    const fresh = join(scratch, "fresh");
    execFileSync("git", ["clone", "-q", d.repo.path, fresh]);
    git(fresh, "checkout", "-q", job.result!.start_commit!);
    git(fresh, "apply", "--check", patchFile);

    const bundleFile = join(scratch, "bundle.tar.gz");
    const bundle = await d.cli([
      "job",
      "artifacts",
      "download",
      jobId!,
      "--path",
      "agentlab-artifacts.tar.gz",
      "--out",
      bundleFile,
    ]);
    expect(bundle.code, bundle.stderr).toBe(0);
    const entries = execFileSync("tar", ["-tzf", bundleFile], { encoding: "utf8" }).split("\n").filter(Boolean);
    expect(entries.map((e) => e.replace(/^\.\//, "")).sort()).toEqual(["agent.log", "changes.patch", "report.json"]);

    const sandbox = await waitForSandboxDestroyed(d, vmid);
    expect(sandbox.state).toBe("DESTROYED");
    await until(`sandbox directory ${vmid} to be removed`, () =>
      existsSync(join(d.deployment.sandboxDir, String(vmid))) ? undefined : true,
    );
    expect(d.leftovers()).toEqual([]);
  });

  it("a failing agent → FAILED with its stderr in `job logs`, and `job run` exits 1", async () => {
    const run = await d.cli([
      "job",
      "run",
      "--repo",
      d.repo.path,
      "--task",
      "fail",
      "--profile",
      d.profile,
      "--agent-command",
      "echo 'compiling…'; echo 'e2e-agent-error: the build is broken' >&2; exit 7",
      "--follow",
    ]);
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(1);
    const jobId = /job (job_[0-9a-f]{16}) queued/.exec(run.stdout)?.[1];
    const job = await showJob(d, jobId!);
    expect(job.status).toBe("FAILED");
    expect(job.result?.exit_code).toBe(7);

    const logs = await d.cli(["job", "logs", jobId!]);
    expect(logs.code).toBe(0);
    expect(logs.stdout).toContain("e2e-agent-error: the build is broken");
    expect(logs.stdout).toContain("compiling…");
    const stderrChunks = (await d.cli(["job", "logs", jobId!, "--output", "json"])).stdout
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { stream: string; data: string });
    expect(stderrChunks.some((c) => c.stream === "stderr" && c.data.includes("e2e-agent-error"))).toBe(true);

    await waitForSandboxDestroyed(d, job.sandbox_vmid!);
  });

  it("job cancel on a running agent → CANCELED, the agent process gone, the sandbox destroyed", async () => {
    // A sleep no other process on this host runs: the agent is found by its command line.
    const marker = `${4000 + Math.floor(Math.random() * 5000)}.${process.pid}`;
    const jobId = await queueJob(d, { agent: `echo agent-started; sleep ${marker}; echo never-printed` });
    await until("the agent to start", async () => {
      const logs = await d.cli(["job", "logs", jobId]);
      return logs.stdout.includes("agent-started") ? true : undefined;
    });
    expect(processesWithCommand(`sleep ${marker}`).length).toBeGreaterThan(0);

    const canceled = await d.cli(["job", "cancel", jobId, "--reason", "e2e cancel"]);
    expect(canceled.code, canceled.stderr).toBe(0);
    const job = await waitForFinalJob(d, jobId);
    expect(job.status).toBe("CANCELED");
    await waitForSandboxDestroyed(d, job.sandbox_vmid!);
    expect(processesWithCommand(`sleep ${marker}`)).toEqual([]);
    // The agent never got past its sleep (the system line quoting its command aside).
    expect((await d.cli(["job", "logs", jobId])).stdout.split("\n")).not.toContain("never-printed");
    expect(existsSync(join(d.deployment.sandboxDir, String(job.sandbox_vmid)))).toBe(false);
    expect(d.leftovers()).toEqual([]);
  }, 90_000);

  it("SIGTERM to the guest runner inside the sandbox → FAILED naming the signal within seconds, not 'guest lost' after guest_heartbeat_timeout; agent gone, artifacts uploaded", async () => {
    const marker = `${4000 + Math.floor(Math.random() * 5000)}.${process.pid}`;
    // printf: the output "agent-up" is not in the command text, which the runner's log line quotes.
    const jobId = await queueJob(d, { agent: `printf '%s-%s\\n' agent up; sleep ${marker}` });
    await until("the agent to start", async () =>
      (await d.cli(["job", "logs", jobId])).stdout.split("\n").includes("agent-up") ? true : undefined,
    );
    const vmid = (await showJob(d, jobId)).sandbox_vmid!;
    // The sandbox's init is a shell running the guest; the guest is the Node process it started.
    const guest = processesOf(join(d.deployment.sandboxDir, String(vmid))).filter(
      (p) => p.cmdline === `${SANDBOX_GUEST_NODE} ${SANDBOX_GUEST_BUNDLE}`,
    );
    expect(guest).toHaveLength(1);
    const signalledAt = Date.now();
    process.kill(guest[0]!.pid, "SIGTERM");

    const job = await waitForFinalJob(d, jobId);
    // guest_heartbeat_timeout is 9 s here: the guest's own report came first, and says why.
    expect(Date.now() - signalledAt).toBeLessThan(9_000);
    expect(job.status).toBe("FAILED");
    expect(job.result?.message).toBe("guest runner stopped by SIGTERM while the agent was running");
    expect(job.failure_reason ?? "").not.toMatch(/guest lost/);
    expect(processesWithCommand(`sleep ${marker}`)).toEqual([]);
    const listed = await d.cliJson<Array<{ path: string }>>(["job", "artifacts", jobId]);
    expect(listed.map((a) => a.path).sort()).toEqual(["agentlab-artifacts.tar.gz", "changes.patch"]);
    expect((await d.cli(["job", "logs", jobId])).stdout).toContain("guest runner received SIGTERM (agent running)");
    await waitForSandboxDestroyed(d, vmid);
    expect(d.leftovers()).toEqual([]);
  }, 90_000);

  it("a secrets bundle's value never shows in logs, events, the database or agentlabd's output", async () => {
    const jobId = await queueJob(d, { agent: SECRETS_AGENT, extra: ["--secrets-bundle", "e2e-secrets"] });
    const job = await waitForFinalJob(d, jobId);
    expect(job.status, job.failure_reason).toBe("COMPLETED");
    await waitForSandboxDestroyed(d, job.sandbox_vmid!);

    const logs = (await d.cli(["job", "logs", jobId])).stdout;
    // The agent did get the value (its length is printed), and printed it: redacted.
    expect(logs).toContain(`key length ${SECRET_VALUE.length}`);
    expect(logs).toContain("API_KEY=[REDACTED]");
    const events = (await d.cli(["events", "--job", jobId, "--tail", "1000", "--output", "json"])).stdout;
    expect((await jobEvents(d, jobId)).length).toBeGreaterThan(3);
    expectSecretNowhere({ logs, events, daemon: d.daemonOutput(), dataDir: d.deployment.dataDir });
  });

  it("a job waits for its result in WatchJob: `job logs --follow` ends when the job does", async () => {
    const jobId = await queueJob(d, { agent: "echo first; sleep 1; echo second" });
    const follow = await d.cli(["job", "logs", jobId, "--follow"]);
    expect(follow.code).toBe(0);
    expect(follow.stdout).toMatch(/first[\s\S]*second/);
    const job = await waitForJob(d, jobId, (j) => j.status === "COMPLETED", "to complete");
    await waitForSandboxDestroyed(d, job.sandbox_vmid!);
  });
});
