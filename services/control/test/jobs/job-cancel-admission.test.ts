import { writeFileSync } from "node:fs";
import { JobStatus } from "@agentlab/api";
import { Code } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import {
  appendLogs,
  eventKinds,
  expectCode,
  fetchPayload,
  GuestJobStatus,
  jobStatus,
  report,
  sandboxState,
  startJob,
} from "./job-guest-helpers.js";
import { JobHarness } from "./job-test-harness.js";

const submit = { repoUrl: "https://example.test/r.git", task: "t", profile: "p1" };

describe("CancelJob", () => {
  let h: JobHarness;
  afterEach(() => h.cleanup());

  it("cancels a queued job at once and refuses to cancel a final one", async () => {
    h = new JobHarness({ min: 9450, max: 9469 });
    h.writeProfile("p1");
    const c = await h.startControl();
    const { job } = await c.jobClient.runJob(submit);
    const canceled = (await c.jobClient.cancelJob({ jobId: job!.id })).job!;
    expect(canceled).toMatchObject({ status: JobStatus.CANCELED, failureReason: "canceled by user" });
    c.jobs.start();
    c.jobs.orchestrator.pump();
    await c.jobs.orchestrator.settled();
    expect(c.db.prepare("SELECT COUNT(*) FROM sandboxes").pluck().get()).toBe(0);
    await expectCode(c.jobClient.cancelJob({ jobId: job!.id }), Code.FailedPrecondition);
    await expectCode(c.jobClient.cancelJob({ jobId: "job_0000000000000000" }), Code.NotFound);
  });

  it("tells a running guest through its replies, and destroys the sandbox when the grace expires", async () => {
    h = new JobHarness({ min: 9450, max: 9469 });
    h.writeProfile("p1");
    const c = await h.startControl();
    c.jobs.start();
    const { jobId, vmid } = await startJob(c, { profile: "p1", keepalive: true });
    const { reportToken } = await fetchPayload(h, c, vmid);

    const asked = (await c.jobClient.cancelJob({ jobId, reason: "wrong repo" })).job!;
    expect(asked).toMatchObject({ status: JobStatus.RUNNING, cancelRequested: true });
    expect(eventKinds(c.db, jobId)).toContain("job.cancel_requested");
    expect((await appendLogs(c, jobId, vmid, reportToken, [{ seq: 1, data: "working" }])).cancelRequested).toBe(true);
    expect((await report(c, jobId, vmid, reportToken, GuestJobStatus.RUNNING)).cancelRequested).toBe(true);

    h.advance(60_000);
    expect(c.jobs.cancelWatch.runOnce()).toEqual([]);
    h.advance(61_000);
    expect(c.jobs.cancelWatch.runOnce()).toEqual([jobId]);
    await c.jobs.finalizer.drain();
    const job = (await c.jobClient.getJob({ jobId })).job!;
    expect(job.status).toBe(JobStatus.CANCELED);
    expect(job.failureReason).toBe("wrong repo; guest did not stop within 2m");
    expect(job.cancelRequested).toBe(false);
    // Destroyed although keepalive: the guest ignored the cancel.
    expect(sandboxState(c.db, vmid)).toBe("DESTROYED");
    expect(await h.liveVmids()).not.toContain(vmid);
    await expectCode(report(c, jobId, vmid, reportToken, GuestJobStatus.CANCELED), Code.FailedPrecondition);
  });

  it("ends CANCELED when the guest stops and reports it", async () => {
    h = new JobHarness({ min: 9450, max: 9469 });
    h.writeProfile("p1");
    const c = await h.startControl();
    c.jobs.start();
    const { jobId, vmid } = await startJob(c, { profile: "p1" });
    const { reportToken } = await fetchPayload(h, c, vmid);
    await c.jobClient.cancelJob({ jobId });
    const reply = await report(c, jobId, vmid, reportToken, GuestJobStatus.CANCELED, { exitCode: -1 });
    expect(reply).toMatchObject({ jobStatus: "CANCELED", cancelRequested: false });
    await c.jobs.finalizer.drain();
    const job = (await c.jobClient.getJob({ jobId })).job!;
    expect(job).toMatchObject({ status: JobStatus.CANCELED, failureReason: "canceled by user" });
    expect(job.result).toMatchObject({ status: JobStatus.CANCELED, exitCode: -1 });
    expect(sandboxState(c.db, vmid)).toBe("DESTROYED");
    expect(c.jobs.cancelWatch.runOnce()).toEqual([]);
  });
});

describe("admission", () => {
  let h: JobHarness;
  afterEach(() => h.cleanup());

  it("keeps the second job QUEUED (visibly) while the cap of 1 is taken, and starts it when the first ends", async () => {
    h = new JobHarness({ min: 9470, max: 9489 }, { maxActive: 1 });
    h.writeProfile("p1");
    const c = await h.startControl();
    const first = (await c.jobClient.runJob(submit)).job!;
    const second = (await c.jobClient.runJob(submit)).job!;
    c.jobs.start();
    c.jobs.orchestrator.pump();
    await c.jobs.orchestrator.settled();
    console.log(c.db.prepare("SELECT kind, job_id, msg FROM events ORDER BY id").all());
    expect(await jobStatus(c, first.id)).toBe("RUNNING");
    expect(await jobStatus(c, second.id)).toBe("QUEUED");
    const waiting = c.db
      .prepare("SELECT msg FROM events WHERE job_id = ? AND kind = 'job.waiting'")
      .pluck()
      .all(second.id) as string[];
    expect(waiting).toEqual(["waiting for a sandbox slot: 1 of 1 sandboxes are active (max_active_sandboxes)"]);
    // Passes while the slot is taken change nothing and add no noise.
    c.jobs.orchestrator.pump();
    expect(await jobStatus(c, second.id)).toBe("QUEUED");
    expect(eventKinds(c.db, second.id).filter((k) => k === "job.waiting")).toHaveLength(1);

    const vmid = (await c.jobClient.getJob({ jobId: first.id })).job!.sandboxVmid;
    const { reportToken } = await fetchPayload(h, c, vmid);
    await report(c, first.id, vmid, reportToken, GuestJobStatus.COMPLETED);
    await c.jobs.finalizer.drain(); // the destroy frees the slot; its event wakes the orchestrator
    await c.jobs.orchestrator.settled();
    const started = (await c.jobClient.getJob({ jobId: second.id })).job!;
    expect(started.status).toBe(JobStatus.RUNNING);
    expect(sandboxState(c.db, started.sandboxVmid)).toBe("RUNNING");
  });

  it("applies a profile's behavior.max_active", async () => {
    h = new JobHarness({ min: 9470, max: 9489 });
    writeFileSync(
      `${h.profilesDir}/p1.yaml`,
      "name: p1\nbackend: local\nnetwork:\n  mode: none\nbehavior:\n  ttl_minutes_default: 30\n  max_active: 1\n",
    );
    const c = await h.startControl();
    const a = (await c.jobClient.runJob(submit)).job!;
    const b = (await c.jobClient.runJob(submit)).job!;
    c.jobs.start();
    c.jobs.orchestrator.pump();
    await c.jobs.orchestrator.settled();
    expect(await jobStatus(c, a.id)).toBe("RUNNING");
    expect(await jobStatus(c, b.id)).toBe("QUEUED");
    const msg = c.db.prepare("SELECT msg FROM events WHERE job_id = ? AND kind = 'job.waiting'").pluck().get(b.id);
    expect(msg).toContain("(behavior.max_active)");
  });
});
