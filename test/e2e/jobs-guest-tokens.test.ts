/**
 * The guest listener's tokens, called the way a guest calls them: gRPC over cleartext HTTP/2 to the
 * real bootstrap_listen of an agentlabd on proxmox-api + pve-sim, with a Connect client. A spent
 * bootstrap token, a foreign-VMID one and an unknown one are refused; reports need the job's report
 * token. (An expired bootstrap token is refused by the same check as a spent one; waiting out its
 * lifetime is not done here.)
 */

import { readFileSync } from "node:fs";
import { GuestJobStatus, GuestService } from "@agentlab/api";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { queueJob, showJob, until, waitForFinalJob, waitForSandboxDestroyed } from "./support/job-waits.js";
import { type JobsDeployment, startJobsDeployment } from "./support/jobs-deployment.js";

async function codeOf(call: Promise<unknown>): Promise<Code | "ok"> {
  try {
    await call;
    return "ok";
  } catch (err) {
    return ConnectError.from(err).code;
  }
}

describe("guest tokens on the real bootstrap listener (HTTP/2, Connect client)", () => {
  let d: JobsDeployment;
  let guest: ReturnType<typeof createClient<typeof GuestService>>;

  beforeAll(async () => {
    d = await startJobsDeployment({ backend: "proxmox-api" });
    const port = /bootstrap_listen: "127\.0\.0\.1:(\d+)"/.exec(readFileSync(d.deployment.configPath, "utf8"))?.[1];
    guest = createClient(GuestService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }));
  });

  afterAll(async () => {
    await d?.close();
  });

  it("a bootstrap token the guest already spent is refused with UNAUTHENTICATED", async () => {
    const jobId = await queueJob(d, { agent: "echo ok" });
    const job = await waitForFinalJob(d, jobId);
    expect(job.status).toBe("COMPLETED");
    const launch = d.launchFor(job.sandbox_vmid!)!;
    expect(launch.started).toBe(true);
    expect(await codeOf(guest.fetchBootstrap({ token: launch.bootstrap.token, vmid: launch.vmid }))).toBe(
      Code.Unauthenticated,
    );
    await waitForSandboxDestroyed(d, launch.vmid);
  });

  it("wrong VMID and unknown tokens are refused without burning the real one; reports need the report token", async () => {
    // The next VM boots with no guest: its bootstrap token stays unspent for this test to use.
    d.launchGuests = false;
    let jobId: string;
    let vmid: number;
    try {
      jobId = await queueJob(d, { agent: "echo never-runs" });
      vmid = await until("the VM to boot", async () => {
        const job = await showJob(d, jobId);
        return job.sandbox_vmid && d.launchFor(job.sandbox_vmid) ? job.sandbox_vmid : undefined;
      });
    } finally {
      d.launchGuests = true;
    }
    const { token } = d.launchFor(vmid)!.bootstrap;
    // The sandbox must be READY before control hands out the payload.
    await until("the sandbox to be ready", async () => {
      const sandbox = await d.cliJson<{ state: string }>(["sandbox", "show", String(vmid)]);
      return ["READY", "RUNNING"].includes(sandbox.state) ? true : undefined;
    });

    expect(await codeOf(guest.fetchBootstrap({ token, vmid: vmid + 1 }))).toBe(Code.Unauthenticated);
    expect(await codeOf(guest.fetchBootstrap({ token: `${token}x`, vmid }))).toBe(Code.Unauthenticated);
    expect(await codeOf(guest.fetchBootstrap({ token: "", vmid }))).toBe(Code.Unauthenticated);

    // The refusals burned nothing: the right token and VMID still get the payload, once.
    const payload = await guest.fetchBootstrap({ token, vmid });
    expect(payload.job?.id).toBe(jobId);
    expect(payload.reportToken).not.toBe("");
    expect(await codeOf(guest.fetchBootstrap({ token, vmid }))).toBe(Code.Unauthenticated);

    const report = { jobId, vmid, status: GuestJobStatus.RUNNING, message: "heartbeat" };
    expect(await codeOf(guest.reportStatus({ ...report, reportToken: "" }))).toBe(Code.Unauthenticated);
    expect(await codeOf(guest.reportStatus({ ...report, reportToken: `${payload.reportToken}x` }))).toBe(
      Code.Unauthenticated,
    );
    expect(await codeOf(guest.reportStatus({ ...report, reportToken: token }))).toBe(Code.Unauthenticated);
    expect(
      await codeOf(guest.appendLogs({ jobId, vmid, reportToken: "not-the-token", entries: [{ seq: 1n, data: "x" }] })),
    ).toBe(Code.Unauthenticated);
    // Bound to the VMID too: the right token from another VMID is refused.
    expect(await codeOf(guest.reportStatus({ ...report, vmid: vmid + 1, reportToken: payload.reportToken }))).toBe(
      Code.Unauthenticated,
    );
    // The job is untouched by all of that; the real token works and ends it.
    expect((await showJob(d, jobId)).status).toBe("RUNNING");
    expect(await codeOf(guest.reportStatus({ ...report, reportToken: payload.reportToken }))).toBe("ok");
    const final = await guest.reportStatus({
      ...report,
      status: GuestJobStatus.FAILED,
      exitCode: 9,
      message: "ended by the token test",
      reportToken: payload.reportToken,
    });
    expect(final.jobStatus).toBe("FAILED");
    const job = await waitForFinalJob(d, jobId);
    expect(job.status).toBe("FAILED");
    await waitForSandboxDestroyed(d, vmid);
    expect(d.sim!.state.vms.has(vmid)).toBe(false);
  });
});
