import { JobStatus, type WatchJobResponse } from "@agentlab/api";
import { afterEach, describe, expect, it } from "vitest";
import {
  appendLogs,
  fetchPayload,
  GuestJobStatus,
  jobStatus,
  report,
  sandboxState,
  startJob,
} from "./job-guest-helpers.js";
import { JobHarness } from "./job-test-harness.js";

type Update = WatchJobResponse["update"];

function describeUpdate(u: Update): string {
  if (u.case === "job") return `job:${JobStatus[u.value.status]}`;
  if (u.case === "event") return `event:${u.value.id}:${u.value.kind}`;
  if (u.case === "log") return `log:${u.value.seq}`;
  return "none";
}

async function collect(
  stream: AsyncIterable<WatchJobResponse>,
  onEach?: (u: Update) => Promise<void>,
): Promise<Update[]> {
  const all: Update[] = [];
  for await (const message of stream) {
    all.push(message.update);
    await onEach?.(message.update);
  }
  return all;
}

describe("WatchJob", () => {
  let h: JobHarness;
  afterEach(() => h.cleanup());

  it("streams the snapshot, events and logs in order, and resumes from offsets without loss or duplicates", async () => {
    h = new JobHarness({ min: 9490, max: 9509 });
    h.writeProfile("p1");
    const c = await h.startControl();
    c.jobs.start();
    const { jobId, vmid } = await startJob(c, { profile: "p1" });
    const { reportToken } = await fetchPayload(h, c, vmid);
    await appendLogs(c, jobId, vmid, reportToken, [
      { seq: 1, data: "one" },
      { seq: 2, data: "two" },
    ]);

    // The guest keeps working while the watcher reads: each log the watcher sees triggers more output.
    let driven = false;
    const updates = await collect(c.jobClient.watchJob({ jobId }), async (u) => {
      if (u.case === "log" && u.value.seq === 2n && !driven) {
        driven = true;
        await appendLogs(c, jobId, vmid, reportToken, [{ seq: 3, data: "three" }]);
        await report(c, jobId, vmid, reportToken, GuestJobStatus.RUNNING, { message: "agent starting" });
        await appendLogs(c, jobId, vmid, reportToken, [
          { seq: 3, data: "three (retry)" },
          { seq: 4, data: "four" },
        ]);
        await report(c, jobId, vmid, reportToken, GuestJobStatus.COMPLETED);
      }
    });
    const text = updates.map(describeUpdate);
    expect(text[0]).toBe("job:RUNNING");
    expect(text.at(-1)).toBe("job:COMPLETED");
    expect(text.filter((t) => t.startsWith("log:"))).toEqual(["log:1", "log:2", "log:3", "log:4"]);
    const eventIds = updates.flatMap((u) => (u.case === "event" ? [Number(u.value.id)] : []));
    expect(eventIds).toEqual([...eventIds].sort((a, b) => a - b));
    expect(new Set(eventIds).size).toBe(eventIds.length);
    const allEvents = c.db.prepare("SELECT id FROM events WHERE job_id = ? ORDER BY id").pluck().all(jobId);
    expect(eventIds).toEqual(allEvents);
    expect(text).toContain(text.find((t) => t.endsWith(":job.completed")));

    // Resume from the middle: exactly what came after the offsets, then the final job.
    const middle = eventIds[Math.floor(eventIds.length / 2)]!;
    const resumed = (await collect(c.jobClient.watchJob({ jobId, afterEventId: BigInt(middle), afterLogSeq: 2n }))).map(
      describeUpdate,
    );
    expect(resumed[0]).toBe("job:COMPLETED");
    expect(resumed.at(-1)).toBe("job:COMPLETED");
    expect(resumed.filter((t) => t.startsWith("log:"))).toEqual(["log:3", "log:4"]);
    expect(resumed.filter((t) => t.startsWith("event:"))).toEqual(
      text.filter((t) => t.startsWith("event:") && Number(t.split(":")[1]) > middle),
    );
  });

  it("without follow, sends what exists and ends while the job still runs", async () => {
    h = new JobHarness({ min: 9490, max: 9509 });
    h.writeProfile("p1");
    const c = await h.startControl();
    c.jobs.start();
    const { jobId, vmid } = await startJob(c, { profile: "p1" });
    const { reportToken } = await fetchPayload(h, c, vmid);
    await appendLogs(c, jobId, vmid, reportToken, [{ seq: 1, data: "one" }]);
    const text = (await collect(c.jobClient.watchJob({ jobId, follow: false }))).map(describeUpdate);
    expect(text[0]).toBe("job:RUNNING");
    expect(text.at(-1)).toBe("job:RUNNING");
    expect(text).toContain("log:1");
  });
});

describe("recovery after a control restart", () => {
  let h: JobHarness;
  afterEach(() => h.cleanup());

  it("keeps running guests, re-queues jobs with no sandbox, fails interrupted provisioning, and clones nothing twice", async () => {
    h = new JobHarness({ min: 9510, max: 9529 });
    h.writeProfile("p1");
    const first = await h.startControl();
    first.jobs.start();
    const kept = await startJob(first, { profile: "p1" });
    const { reportToken } = await fetchPayload(h, first, kept.vmid);
    await first.jobs.stop(); // admit nothing more: the next jobs stay as a crash would leave them
    const queued = (await first.jobClient.runJob({ repoUrl: "r", task: "t", profile: "p1" })).job!;
    const noSandbox = (await first.jobClient.runJob({ repoUrl: "r", task: "t", profile: "p1" })).job!;
    const interrupted = (await first.jobClient.runJob({ repoUrl: "r", task: "t", profile: "p1" })).job!;
    await h.stopControl(first);

    const { openDatabase, closeDatabase } = await import("../../src/db/open-database.js");
    const raw = openDatabase(h.dbPath);
    raw.prepare("UPDATE jobs SET status = 'RUNNING' WHERE id IN (?, ?)").run(noSandbox.id, interrupted.id);
    raw
      .prepare(
        `INSERT INTO sandboxes (vmid, name, profile, state, keepalive, created_at, updated_at, meta_json, owner_tag, runner, request_id)
         VALUES (9529, 'sandbox-9529', 'p1', 'BOOTING', 0, ?, ?, '{"backend":"local"}', 'agentlab-jobtest', 'local', ?)`,
      )
      .run("2026-03-01T12:00:00.000Z", "2026-03-01T12:00:00.000Z", `job:${interrupted.id}`);
    raw.prepare("UPDATE jobs SET sandbox_vmid = 9529 WHERE id = ?").run(interrupted.id);
    closeDatabase(raw);

    const second = await h.startControl();
    const outcome = second.jobs.recover();
    expect(outcome).toEqual({ requeued: [noSandbox.id], kept: [kept.jobId], failed: [interrupted.id] });
    const failed = (await second.jobClient.getJob({ jobId: interrupted.id })).job!;
    expect(failed).toMatchObject({ status: JobStatus.FAILED, failureReason: "control restarted while provisioning" });
    await second.jobs.finalizer.drain();
    expect(sandboxState(second.db, 9529)).toBe("DESTROYED");

    // The running guest carries on with the same token.
    const reply = await report(second, kept.jobId, kept.vmid, reportToken, GuestJobStatus.RUNNING, {
      message: "still here",
    });
    expect(reply.jobStatus).toBe("RUNNING");

    second.jobs.start();
    second.jobs.orchestrator.pump();
    await second.jobs.orchestrator.settled();
    expect(await jobStatus(second, queued.id)).toBe("RUNNING");
    expect(await jobStatus(second, noSandbox.id)).toBe("RUNNING");
    const perJob = second.db
      .prepare("SELECT request_id, COUNT(*) AS n FROM sandboxes WHERE request_id LIKE 'job:%' GROUP BY request_id")
      .all() as { request_id: string; n: number }[];
    expect(perJob.every((row) => row.n === 1)).toBe(true);
    expect(perJob).toHaveLength(4);
    const live = await h.liveVmids();
    expect(live).toContain(kept.vmid);
    expect(live).toHaveLength(3);
  });
});
