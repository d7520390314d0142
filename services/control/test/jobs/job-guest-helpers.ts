/** Steps of a simulated guest and small queries the job tests share. */
import { GuestJobStatus, JobStatus } from "@agentlab/api";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { expect } from "vitest";
import type { SqliteDatabase } from "../../src/db/open-database.js";
import { findSandbox } from "../../src/sandboxes/sandbox-store.js";
import type { Control, JobHarness } from "./job-test-harness.js";

export async function expectCode(promise: Promise<unknown>, code: Code): Promise<ConnectError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(ConnectError);
    expect(Code[(err as ConnectError).code]).toBe(Code[code]);
    return err as ConnectError;
  }
  throw new Error(`expected ${Code[code]}, but the call succeeded`);
}

/** Submits a job, admits it and waits until its sandbox is READY/RUNNING. */
export async function startJob(
  c: Control,
  req: { profile: string; keepalive?: boolean; secretsBundle?: string; task?: string; agentCommand?: string },
): Promise<{ jobId: string; vmid: number }> {
  const { job } = await c.jobClient.runJob({
    repoUrl: "https://example.test/repo.git",
    task: req.task ?? "fix the bug",
    profile: req.profile,
    ...(req.keepalive !== undefined ? { keepalive: req.keepalive } : {}),
    secretsBundle: req.secretsBundle ?? "",
    agentCommand: req.agentCommand ?? "",
  });
  c.jobs.orchestrator.pump();
  await c.jobs.orchestrator.settled();
  const after = (await c.jobClient.getJob({ jobId: job!.id })).job!;
  return { jobId: after.id, vmid: after.sandboxVmid };
}

/** FetchBootstrap with the token the runner wrote into the sandbox. */
export async function fetchPayload(h: JobHarness, c: Control, vmid: number) {
  const doc = h.bootstrapDocument(vmid);
  return c.guestClient.fetchBootstrap({ token: doc.token, vmid });
}

export function report(
  c: Control,
  jobId: string,
  vmid: number,
  reportToken: string,
  status: GuestJobStatus,
  extra: { message?: string; exitCode?: number } = {},
) {
  return c.guestClient.reportStatus({
    jobId,
    vmid,
    reportToken,
    status,
    message: extra.message ?? "",
    exitCode: extra.exitCode ?? 0,
    durationSeconds: 3.5,
    startCommit: "a".repeat(40),
    finalCommit: "b".repeat(40),
  });
}

export function appendLogs(
  c: Control,
  jobId: string,
  vmid: number,
  reportToken: string,
  entries: Array<{ seq: number; data: string; stream?: string }>,
) {
  return c.guestClient.appendLogs({
    jobId,
    vmid,
    reportToken,
    entries: entries.map((e) => ({
      seq: BigInt(e.seq),
      ts: timestampFromDate(new Date("2026-03-01T12:00:01.000Z")),
      stream: e.stream ?? "stdout",
      data: e.data,
    })),
  });
}

export function sandboxState(db: SqliteDatabase, vmid: number): string | undefined {
  return findSandbox(db, vmid)?.state;
}

export async function jobStatus(c: Control, jobId: string): Promise<string> {
  return JobStatus[(await c.jobClient.getJob({ jobId })).job!.status];
}

export function eventKinds(db: SqliteDatabase, jobId: string): string[] {
  return db.prepare("SELECT kind FROM events WHERE job_id = ? ORDER BY id").pluck().all(jobId) as string[];
}

export { GuestJobStatus };
