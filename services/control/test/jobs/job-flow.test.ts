import { JobStatus } from "@agentlab/api";
import { Code } from "@connectrpc/connect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { insertArtifactRow } from "../../src/artifacts/artifact-store.js";
import { LOCAL_SANDBOX_ARTIFACTS_ENDPOINT, LOCAL_SANDBOX_CONTROL_ENDPOINT } from "../../src/tokens/bootstrap-data.js";
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

const API_KEY = "sk-live-very-secret-0123456789";
const GIT_TOKEN = "ghp_gitTokenValue987654321";
const BUNDLE = `env:\n  API_KEY: "${API_KEY}"\ngit:\n  token: "${GIT_TOKEN}"\n  username: bot\n`;

describe("a job end to end through control, a real local sandbox and a simulated guest", () => {
  let h: JobHarness;
  beforeEach(() => {
    h = new JobHarness({ min: 9400, max: 9449 });
    h.writeProfile("p1", "secrets_bundle: b1\nagent:\n  command: ./agent.sh --fast\n");
    h.writeBundle("b1", BUNDLE);
  });
  afterEach(() => h.cleanup());

  it("queues, runs in a READY sandbox, takes reports and logs, completes and destroys the sandbox", async () => {
    const c = await h.startControl();
    const { job } = await c.jobClient.runJob({ repoUrl: "https://example.test/r.git", task: "do it", profile: "p1" });
    expect(job).toMatchObject({ status: JobStatus.QUEUED, ref: "main", mode: "dangerous", ttlMinutes: 30 });
    expect(job!.id).toMatch(/^job_[0-9a-f]{16}$/);
    expect(job!.secretsBundle).toBe("b1");

    c.jobs.start();
    c.jobs.orchestrator.pump();
    await c.jobs.orchestrator.settled();
    const running = (await c.jobClient.getJob({ jobId: job!.id })).job!;
    expect(running.status).toBe(JobStatus.RUNNING);
    expect(running.startedAt).toBeDefined();
    const vmid = running.sandboxVmid;
    expect(vmid).toBeGreaterThanOrEqual(9400);
    expect(sandboxState(c.db, vmid)).toBe("RUNNING");
    expect(eventKinds(c.db, job!.id)).toEqual(
      expect.arrayContaining(["job.queued", "job.provisioning", "job.running"]),
    );
    expect(await h.liveVmids()).toContain(vmid);

    const doc = h.bootstrapDocument(vmid);
    expect(doc.controller).toBe(LOCAL_SANDBOX_CONTROL_ENDPOINT);
    await expectCode(c.guestClient.fetchBootstrap({ token: doc.token, vmid: vmid + 1 }), Code.Unauthenticated);
    await expectCode(c.guestClient.fetchBootstrap({ token: "0".repeat(64), vmid }), Code.Unauthenticated);
    const payload = await fetchPayload(h, c, vmid);
    expect(payload.job).toMatchObject({
      id: job!.id,
      task: "do it",
      agentCommand: "./agent.sh --fast",
      ttlMinutes: 30,
    });
    expect(payload.env).toEqual({ API_KEY });
    expect(payload.git).toMatchObject({ token: GIT_TOKEN, username: "bot" });
    expect(payload.upload).toMatchObject({ endpoint: LOCAL_SANDBOX_ARTIFACTS_ENDPOINT, maxBytes: 1024n * 1024n });
    expect(payload.upload!.token).toMatch(/^[0-9a-f]{64}$/);
    expect(payload.heartbeatIntervalSeconds).toBe(15); // a third of 2m is 40 s, capped at 15 s
    expect(payload.logStreamMaxBytes).toBe(1024n * 1024n);
    // Spent: a second fetch is refused.
    await expectCode(fetchPayload(h, c, vmid), Code.Unauthenticated);

    const token = payload.reportToken;
    await expectCode(report(c, job!.id, vmid, "", GuestJobStatus.RUNNING), Code.Unauthenticated);
    await expectCode(report(c, job!.id, vmid, "f".repeat(64), GuestJobStatus.RUNNING), Code.Unauthenticated);
    await expectCode(report(c, job!.id, vmid + 1, token, GuestJobStatus.RUNNING), Code.Unauthenticated);
    await expectCode(appendLogs(c, job!.id, vmid, "nope", [{ seq: 1, data: "x" }]), Code.Unauthenticated);

    const progress = await report(c, job!.id, vmid, token, GuestJobStatus.RUNNING, {
      message: `repo ready ${API_KEY}`,
    });
    expect(progress).toMatchObject({ cancelRequested: false, jobStatus: "RUNNING" });

    const first = await appendLogs(c, job!.id, vmid, token, [
      { seq: 1, data: "hello\n" },
      { seq: 2, data: `key is ${API_KEY}\n`, stream: "stderr" },
    ]);
    expect(first.storedSeq).toBe(2n);
    // A retried call stores nothing twice; a gap is not stored either (the guest resends from 3).
    expect((await appendLogs(c, job!.id, vmid, token, [{ seq: 2, data: "dup" }])).storedSeq).toBe(2n);
    expect((await appendLogs(c, job!.id, vmid, token, [{ seq: 4, data: "gap" }])).storedSeq).toBe(2n);
    expect((await appendLogs(c, job!.id, vmid, token, [])).storedSeq).toBe(2n);
    const logs = c.db.prepare("SELECT seq, stream, data FROM job_logs WHERE job_id = ? ORDER BY seq").all(job!.id);
    expect(logs).toEqual([
      { seq: 1, stream: "stdout", data: "hello\n" },
      { seq: 2, stream: "stderr", data: "key is [REDACTED]\n" },
    ]);

    // What the artifacts service records when the guest uploads (its RecordArtifact).
    insertArtifactRow(c.db, {
      jobId: job!.id,
      vmid,
      name: "agentlab-artifacts.tar.gz",
      path: "agentlab-artifacts.tar.gz",
      sizeBytes: 42,
      sha256: "c".repeat(64),
      mime: "application/gzip",
      createdAt: "2026-03-01T12:00:02.000Z",
      storedPath: `${job!.id}/1-agentlab-artifacts.tar.gz`,
    });
    const done = await report(c, job!.id, vmid, token, GuestJobStatus.COMPLETED, {
      message: "agent exited with code 0",
    });
    expect(done).toMatchObject({ jobStatus: "COMPLETED", cancelRequested: false });
    await c.jobs.finalizer.drain();
    expect(sandboxState(c.db, vmid)).toBe("DESTROYED");
    expect(await h.liveVmids()).not.toContain(vmid);
    // The sandbox's whole life is in the job's events, its teardown included.
    const sandboxMoves = c.db
      .prepare("SELECT msg FROM events WHERE job_id = ? AND kind = 'sandbox.state' ORDER BY id")
      .pluck()
      .all(job!.id) as string[];
    expect(sandboxMoves[0]).toMatch(/^REQUESTED -> PROVISIONING/);
    expect(sandboxMoves.at(-1)).toMatch(/-> DESTROYED/);

    const final = await c.jobClient.getJob({ jobId: job!.id });
    expect(final.job).toMatchObject({ status: JobStatus.COMPLETED, failureReason: "", cancelRequested: false });
    expect(final.job!.finishedAt).toBeDefined();
    expect(final.job!.result).toMatchObject({
      status: JobStatus.COMPLETED,
      exitCode: 0,
      durationSeconds: 3.5,
      startCommit: "a".repeat(40),
      finalCommit: "b".repeat(40),
      message: "agent exited with code 0",
    });
    expect(final.job!.result!.artifacts.map((a) => a.name)).toEqual(["agentlab-artifacts.tar.gz"]);
    expect(final.events.map((e) => e.kind)).toContain("job.completed");
    expect((await c.jobClient.listJobArtifacts({ jobId: job!.id })).artifacts).toHaveLength(1);

    const again = await expectCode(report(c, job!.id, vmid, token, GuestJobStatus.COMPLETED), Code.FailedPrecondition);
    expect(again.rawMessage).toContain("job already finalized");

    // The bundle's values never reached the database or the log; only its name did.
    const dump = [
      JSON.stringify(c.db.prepare("SELECT * FROM jobs").all()),
      JSON.stringify(c.db.prepare("SELECT * FROM events").all()),
      JSON.stringify(c.db.prepare("SELECT * FROM job_logs").all()),
      JSON.stringify(c.db.prepare("SELECT * FROM sandboxes").all()),
      h.logLines.join("\n"),
    ].join("\n");
    expect(dump).not.toContain(API_KEY);
    expect(dump).not.toContain(GIT_TOKEN);
    expect(dump).not.toContain(payload.reportToken);
    expect(dump).not.toContain(payload.upload!.token);
  });

  it("keeps a keepalive sandbox; a failing agent ends FAILED with its result", async () => {
    const c = await h.startControl();
    c.jobs.start();
    const { jobId, vmid } = await startJob(c, { profile: "p1", keepalive: true });
    const payload = await fetchPayload(h, c, vmid);
    const reply = await report(c, jobId, vmid, payload.reportToken, GuestJobStatus.FAILED, {
      message: "agent exited with code 2",
      exitCode: 2,
    });
    expect(reply.jobStatus).toBe("FAILED");
    await c.jobs.finalizer.drain();
    const job = (await c.jobClient.getJob({ jobId })).job!;
    expect(job).toMatchObject({ status: JobStatus.FAILED, failureReason: "agent exited with code 2", keepalive: true });
    expect(job.result).toMatchObject({ status: JobStatus.FAILED, exitCode: 2 });
    expect(sandboxState(c.db, vmid)).toBe("FAILED");
    expect(await h.liveVmids()).toContain(vmid);
  });

  it("answers NOT_FOUND to a bare sandbox's guest and refuses an expired token", async () => {
    const c = await h.startControl();
    const bare = await c.lifecycle.create({ profile: "p1", wait: true });
    const bareDoc = h.bootstrapDocument(bare.vmid);
    const err = await expectCode(
      c.guestClient.fetchBootstrap({ token: bareDoc.token, vmid: bare.vmid }),
      Code.NotFound,
    );
    expect(err.rawMessage).toContain(`no job assigned to sandbox ${bare.vmid}`);

    c.jobs.start();
    const { vmid } = await startJob(c, { profile: "p1" });
    h.advance(31 * 60_000); // past the bootstrap token's 30 minutes
    await expectCode(fetchPayload(h, c, vmid), Code.Unauthenticated);
  });

  it("fails a job whose guest stops sending heartbeats, and destroys its sandbox", async () => {
    const c = await h.startControl();
    c.jobs.start();
    const { jobId, vmid } = await startJob(c, { profile: "p1" });
    await fetchPayload(h, c, vmid);
    h.advance(60_000);
    expect(c.jobs.heartbeatWatch.runOnce()).toEqual([]);
    h.advance(61_000);
    expect(c.jobs.heartbeatWatch.runOnce()).toEqual([jobId]);
    await c.jobs.finalizer.drain();
    const job = (await c.jobClient.getJob({ jobId })).job!;
    expect(job.status).toBe(JobStatus.FAILED);
    expect(job.failureReason).toBe("guest lost: no heartbeat for 121s");
    expect(sandboxState(c.db, vmid)).toBe("DESTROYED");
    expect(await h.liveVmids()).not.toContain(vmid);
  });

  it("fails a job whose guest never called, counting from the sandbox's READY time", async () => {
    const c = await h.startControl();
    c.jobs.start();
    const { jobId } = await startJob(c, { profile: "p1" });
    h.advance(121_000);
    expect(c.jobs.heartbeatWatch.runOnce()).toEqual([jobId]);
    expect(await jobStatus(c, jobId)).toBe("FAILED");
  });
});
