/**
 * Jobs end to end on both Proxmox backends against pve-sim: agentlabd as a real process, the CLI
 * binary, the sim's HTTPS API (proxmox-api) or its fake qm/pvesh (proxmox-shell), and the real guest
 * runner launched by each simulated VM at boot from its cloud-init snippet.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { killAll, killAllAndWait, processesOf } from "./support/host-processes.js";
import { queueJob, showJob, until, waitForFinalJob, waitForSandboxDestroyed } from "./support/job-waits.js";
import { GUEST_BIN, type JobsBackend, type JobsDeployment, startJobsDeployment } from "./support/jobs-deployment.js";
import { EDITING_AGENT, git } from "./support/scratch-repo.js";
import { expectSecretNowhere, SECRET_BUNDLE, SECRET_VALUE, SECRETS_AGENT } from "./support/secret-checks.js";
import { cloneRequestsFor, simVmsBesidesTemplates, snippetFilesFor } from "./support/sim-checks.js";

/** Everything a job's VM leaves in the sim must be gone once it is destroyed. */
async function expectVmGone(d: JobsDeployment, vmid: number): Promise<void> {
  await waitForSandboxDestroyed(d, vmid);
  const sim = d.sim!;
  expect(sim.state.vms.has(vmid)).toBe(false);
  expect(snippetFilesFor(d.snippetsDir!, vmid)).toEqual([]);
  expect(sim.context.guests.running()).not.toContain(vmid);
}

/** A shell loop that waits for `file` to exist (the test's go-ahead), printing a line first. */
function waitForFileAgent(file: string, before: string, after: string): string {
  return `echo ${before}; while [ ! -f ${file} ]; do sleep 0.1; done; echo ${after}`;
}

/** The shell backend runs a fake-CLI process per qm/pvesh call: a job takes seconds, not one. */
const JOB_TEST_TIMEOUT = 120_000;

describe.each<JobsBackend>(["proxmox-api", "proxmox-shell"])("jobs on %s and pve-sim", (backend) => {
  let d: JobsDeployment;
  let scratch: string;

  beforeAll(async () => {
    d = await startJobsDeployment({
      backend,
      secrets: { "e2e-secrets": SECRET_BUNDLE },
      config: { log_level: "debug" },
    });
    scratch = mkdtempSync(join(tmpdir(), `agentlab-e2e-jobs-${backend}-out-`));
  });

  afterAll(async () => {
    await d?.close();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it(
    "job run → COMPLETED, artifacts present, the VM destroyed in the sim and its snippet removed",
    async () => {
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
      expect(run.code, `${run.stdout}\n${run.stderr}\n${d.daemonOutput()}`).toBe(0);
      const jobId = /job (job_[0-9a-f]{16}) queued/.exec(run.stdout)![1]!;
      const job = await showJob(d, jobId);
      expect(job.status).toBe("COMPLETED");
      const vmid = job.sandbox_vmid!;
      // The guest really ran in "the VM": the sim launched it from this VM's snippet.
      expect(d.launchFor(vmid)?.started).toBe(true);
      expect(cloneRequestsFor(d.sim!, vmid)).toHaveLength(1);

      const listed = await d.cliJson<Array<{ path: string; size_bytes: string | number }>>(["job", "artifacts", jobId]);
      expect(listed.map((a) => a.path).sort()).toEqual(["agentlab-artifacts.tar.gz", "changes.patch"]);
      const patchFile = join(scratch, `${jobId}.patch`);
      expect(
        (await d.cli(["job", "artifacts", "download", jobId, "--path", "changes.patch", "--out", patchFile])).code,
      ).toBe(0);
      const fresh = join(scratch, `${jobId}-fresh`);
      execFileSync("git", ["clone", "-q", d.repo.path, fresh]);
      git(fresh, "checkout", "-q", job.result!.start_commit!);
      git(fresh, "apply", "--check", patchFile);

      await expectVmGone(d, vmid);
      expect(d.leftovers()).toEqual([]);
    },
    JOB_TEST_TIMEOUT,
  );

  it(
    "a secrets bundle's value is in no snippet, log, event, database file or agentlabd output",
    async () => {
      const go = join(scratch, `go-secrets-${backend}`);
      const snippets: string[] = [];
      const jobId = await queueJob(d, {
        agent: `${SECRETS_AGENT}; ${waitForFileAgent(go, "holding", "released")}`,
        extra: ["--secrets-bundle", "e2e-secrets"],
      });
      // While the agent holds, the VM's snippet exists: read every snippet there is.
      await until("the agent to print its key", async () =>
        (await d.cli(["job", "logs", jobId])).stdout.includes("holding") ? true : undefined,
      );
      const vmid = (await showJob(d, jobId)).sandbox_vmid!;
      const files = snippetFilesFor(d.snippetsDir!, vmid);
      expect(files.length).toBeGreaterThan(0);
      for (const file of files) snippets.push(readFileSync(join(d.snippetsDir!, file), "utf8"));
      // The bootstrap JSON the sim took from the snippet holds a token, not the bundle.
      const launch = d.launchFor(vmid)!;
      snippets.push(JSON.stringify(launch.bootstrap));
      writeFileSync(go, "");

      const job = await waitForFinalJob(d, jobId);
      expect(job.status, job.failure_reason).toBe("COMPLETED");
      await expectVmGone(d, vmid);
      const logs = (await d.cli(["job", "logs", jobId])).stdout;
      expect(logs).toContain(`key length ${SECRET_VALUE.length}`);
      const events = (await d.cli(["events", "--job", jobId, "--tail", "1000", "--output", "json"])).stdout;
      expectSecretNowhere({ logs, events, daemon: d.daemonOutput(), dataDir: d.deployment.dataDir, snippets });
    },
    JOB_TEST_TIMEOUT,
  );

  it(
    "control SIGKILLed mid-job and restarted: the guest carries on and reports, one clone, nothing leaked",
    async () => {
      const go = join(scratch, `go-restart-${backend}`);
      const jobId = await queueJob(d, {
        agent: `echo before-restart; while [ ! -f ${go} ]; do echo tick; sleep 0.2; done; echo after-restart`,
      });
      await until("the agent to run", async () =>
        (await d.cli(["job", "logs", jobId])).stdout.includes("before-restart") ? true : undefined,
      );
      const vmid = (await showJob(d, jobId)).sandbox_vmid!;
      const launch = d.launchFor(vmid)!;

      await d.killDaemon();
      // The guest keeps going on its own while control is away (the VM does not depend on control).
      const guest = () => processesOf(launch.dir).filter((p) => p.cmdline.includes(GUEST_BIN));
      expect(guest()).toHaveLength(1);
      await d.restartDaemon();
      writeFileSync(go, "");

      const job = await waitForFinalJob(d, jobId);
      // The guest resent its logs and report once control was back.
      expect(job.status, job.failure_reason).toBe("COMPLETED");
      const logs = (await d.cli(["job", "logs", jobId])).stdout;
      expect(logs).toMatch(/before-restart[\s\S]*tick[\s\S]*after-restart/);
      await expectVmGone(d, vmid);
      expect(cloneRequestsFor(d.sim!, vmid)).toHaveLength(1);
      expect(simVmsBesidesTemplates(d.sim!)).toEqual([]);
      expect(d.leftovers()).toEqual([]);
    },
    JOB_TEST_TIMEOUT,
  );
});

describe("jobs on proxmox-api with a short heartbeat timeout", () => {
  let d: JobsDeployment;

  beforeAll(async () => {
    d = await startJobsDeployment({
      backend: "proxmox-api",
      config: { guest_heartbeat_timeout: "3s", reconcile_interval: "1s" },
    });
  });

  afterAll(async () => {
    await d?.close();
  });

  it(
    "a hanging agent past its TTL → TIMEOUT (the guest's test-only TTL override stands in for --ttl 1m)",
    async () => {
      d.guestEnv.AGENTLAB_TTL_SECONDS_OVERRIDE = "2";
      let jobId: string;
      try {
        jobId = await queueJob(d, { agent: "echo hanging; sleep 600", extra: ["--ttl", "1m"] });
        await until("the guest to start", async () => {
          const vmid = (await showJob(d, jobId)).sandbox_vmid;
          return vmid && d.launchFor(vmid) ? true : undefined;
        });
      } finally {
        delete d.guestEnv.AGENTLAB_TTL_SECONDS_OVERRIDE;
      }
      const job = await waitForFinalJob(d, jobId);
      expect(job.status).toBe("TIMEOUT");
      expect(job.result?.message ?? "").toMatch(/timed out/);
      expect((await d.cli(["job", "logs", jobId])).stdout).toContain("hanging");
      await expectVmGone(d, job.sandbox_vmid!);
      expect(d.leftovers()).toEqual([]);
    },
    JOB_TEST_TIMEOUT,
  );

  it(
    "the guest killed → the job FAILS with 'guest lost' once guest_heartbeat_timeout passes",
    async () => {
      const jobId = await queueJob(d, { agent: "echo agent-up; sleep 600" });
      await until("the agent to start", async () =>
        (await d.cli(["job", "logs", jobId])).stdout.includes("agent-up") ? true : undefined,
      );
      const vmid = (await showJob(d, jobId)).sandbox_vmid!;
      const launch = d.launchFor(vmid)!;
      const guest = processesOf(launch.dir).filter((p) => p.cmdline.includes(GUEST_BIN));
      expect(guest).toHaveLength(1);
      killAll(guest);

      const job = await waitForFinalJob(d, jobId);
      expect(job.status).toBe("FAILED");
      expect(job.failure_reason).toMatch(/guest lost/);
      await expectVmGone(d, vmid);
      // A destroyed VM takes its agent with it; the sim only kills the guest's own process group, and
      // the guest (killed first) never stopped its agent's group: do what the VM's end would.
      await killAllAndWait(processesOf(launch.dir));
      expect(d.leftovers()).toEqual([]);
    },
    JOB_TEST_TIMEOUT,
  );
});
