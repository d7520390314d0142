import { ArtifactRegistryService } from "@agentlab/api";
import { createErrorMappingInterceptor } from "@agentlab/core";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { registerArtifactRegistryRoutes } from "../../src/artifacts/artifact-registry-routes.js";
import { listJobArtifacts } from "../../src/artifacts/job-artifacts.js";
import { mintUploadToken, revokeUploadTokensForJob } from "../../src/artifacts/upload-token-store.js";
import {
  type ArtifactTestDb,
  artifactIds,
  eventsOfKind,
  insertJob,
  insertMigratedArtifact,
  openArtifactTestDb,
  setJob,
} from "./artifact-test-db.js";

const MAX_BYTES = 1_000_000;
const SHA = "0123456789abcdef".repeat(4);

async function codeOf(call: Promise<unknown>): Promise<Code | undefined> {
  try {
    await call;
  } catch (err) {
    return ConnectError.from(err).code;
  }
  return undefined;
}

describe("ArtifactRegistryService", () => {
  let t: ArtifactTestDb;
  let client: Client<typeof ArtifactRegistryService>;
  let token: string;

  beforeEach(async () => {
    t = await openArtifactTestDb();
    insertJob(t.db, { id: "job_a", sandboxVmid: 1001 });
    insertJob(t.db, { id: "job_b", sandboxVmid: 1002 });
    token = mintUploadToken(t.db, { jobId: "job_a", vmid: 1001 }, t.fake.clock(), 3_600_000);
    const transport = createRouterTransport(
      (router) =>
        registerArtifactRegistryRoutes(router, { db: t.db, bus: t.bus, clock: t.fake.clock, maxBytes: MAX_BYTES }),
      { router: { interceptors: [createErrorMappingInterceptor()] } },
    );
    client = createClient(ArtifactRegistryService, transport);
  });
  afterEach(() => t.close());

  const record = (over: Partial<Parameters<typeof client.recordArtifact>[0]> = {}) =>
    client.recordArtifact({
      token,
      path: "logs/agent.log",
      storedPath: "job_a/logs/agent.log.1111222233334444",
      sizeBytes: 42n,
      sha256: SHA,
      mime: "text/plain",
      ...over,
    });

  it("AuthorizeUpload answers the token's job, VMID and the size limit", async () => {
    const res = await client.authorizeUpload({ token, path: "changes.patch", sourceAddress: "10.77.0.5" });
    expect(res).toMatchObject({ jobId: "job_a", vmid: 1001, maxBytes: BigInt(MAX_BYTES) });
    expect(await codeOf(client.authorizeUpload({ token: "nope", path: "x" }))).toBe(Code.Unauthenticated);
    expect(await codeOf(client.authorizeUpload({ token, path: "../job_b/x" }))).toBe(Code.InvalidArgument);
    expect(await codeOf(client.authorizeUpload({ token, path: "/etc/passwd" }))).toBe(Code.InvalidArgument);
    expect(await codeOf(client.authorizeUpload({ token, path: "a/%2e%2e/b" }))).toBe(Code.InvalidArgument);
    setJob(t.db, "job_a", "COMPLETED", "2025-03-01T11:00:00.000Z");
    expect(await codeOf(client.authorizeUpload({ token, path: "x" }))).toBe(Code.PermissionDenied);
  });

  it("RecordArtifact inserts the row from the token and records artifact.upload after commit", async () => {
    const { artifact } = await record();
    expect(artifact).toMatchObject({
      jobId: "job_a",
      vmid: 1001,
      name: "agent.log",
      path: "logs/agent.log",
      sizeBytes: 42n,
      sha256: SHA,
      mime: "text/plain",
    });
    expect(artifact?.id).toBeGreaterThan(0n);
    expect(timestampDate(artifact!.createdAt!).toISOString()).toBe("2025-03-01T12:00:00.000Z");
    const row = t.db.prepare("SELECT * FROM artifacts").get() as Record<string, unknown>;
    expect(row).toMatchObject({ job_id: "job_a", vmid: 1001, stored_path: "job_a/logs/agent.log.1111222233334444" });

    const [event] = eventsOfKind(t.db, "artifact.upload");
    expect(event).toMatchObject({ jobId: "job_a", sandboxVmid: 1001 });
    expect(event!.payload).toEqual({ path: "logs/agent.log", size_bytes: 42, sha256: SHA });
    expect(JSON.stringify(event)).not.toContain(token);
    expect(t.published.map((e) => e.id)).toEqual([event!.id]);
  });

  it("an empty path records the bundle, an empty mime records octet-stream", async () => {
    const { artifact } = await record({ path: "", storedPath: "job_a/agentlab-artifacts.tar.gz.aa", mime: "" });
    expect(artifact).toMatchObject({ name: "agentlab-artifacts.tar.gz", mime: "application/octet-stream" });
  });

  it("RecordArtifact refuses bad input and leaves no row and no event", async () => {
    const cases: Array<[Partial<Parameters<typeof client.recordArtifact>[0]>, Code]> = [
      [{ token: "" }, Code.Unauthenticated],
      [{ token: "f".repeat(64) }, Code.Unauthenticated],
      // job_a's token cannot record a file in job_b's folder.
      [{ storedPath: "job_b/logs/agent.log.1" }, Code.InvalidArgument],
      [{ storedPath: "job_a/../job_b/x" }, Code.InvalidArgument],
      [{ storedPath: "" }, Code.InvalidArgument],
      [{ path: "../x" }, Code.InvalidArgument],
      [{ sizeBytes: -1n }, Code.InvalidArgument],
      [{ sizeBytes: BigInt(MAX_BYTES + 1) }, Code.InvalidArgument],
      [{ sha256: "ABC" }, Code.InvalidArgument],
      [{ mime: "not a type\n" }, Code.InvalidArgument],
    ];
    for (const [over, code] of cases) {
      expect(
        await codeOf(record(over)),
        JSON.stringify(over, (_k, v) => (typeof v === "bigint" ? String(v) : v)),
      ).toBe(code);
    }
    expect(artifactIds(t.db)).toEqual([]);
    expect(eventsOfKind(t.db, "artifact.upload")).toEqual([]);
    expect(t.published).toEqual([]);
  });

  it("refuses a revoked token and a job finished longer than the grace period ago", async () => {
    revokeUploadTokensForJob(t.db, "job_a", t.fake.clock());
    expect(await codeOf(record())).toBe(Code.Unauthenticated);
    const fresh = mintUploadToken(t.db, { jobId: "job_a", vmid: 1001 }, t.fake.clock(), 3_600_000);
    setJob(t.db, "job_a", "FAILED", "2025-03-01T11:49:59.999Z");
    expect(await codeOf(record({ token: fresh }))).toBe(Code.PermissionDenied);
    setJob(t.db, "job_a", "FAILED", "2025-03-01T11:50:00.000Z");
    expect((await record({ token: fresh })).artifact?.jobId).toBe("job_a");
  });

  it("refuses a stored_path already recorded, including a migrated row's implicit path", async () => {
    await record();
    expect(await codeOf(record())).toBe(Code.AlreadyExists);
    insertMigratedArtifact(t.db, { jobId: "job_a", path: "report.json" });
    expect(await codeOf(record({ path: "report.json", storedPath: "job_a/report.json" }))).toBe(Code.AlreadyExists);
    expect(eventsOfKind(t.db, "artifact.upload")).toHaveLength(1);
  });

  it("ListArtifacts gives stored paths, <job_id>/<path> for migrated rows, oldest first", async () => {
    insertMigratedArtifact(t.db, { jobId: "job_a", path: "agentlab-artifacts.tar.gz", mime: null });
    await record();
    insertMigratedArtifact(t.db, { jobId: "job_b", path: "other.txt" });
    const { artifacts } = await client.listArtifacts({ jobId: "job_a" });
    expect(artifacts.map((a) => [a.artifact?.path, a.storedPath, a.artifact?.mime])).toEqual([
      ["agentlab-artifacts.tar.gz", "job_a/agentlab-artifacts.tar.gz", "application/octet-stream"],
      ["logs/agent.log", "job_a/logs/agent.log.1111222233334444", "text/plain"],
    ]);
    expect(await codeOf(client.listArtifacts({ jobId: "job_missing" }))).toBe(Code.NotFound);
    expect(await codeOf(client.listArtifacts({ jobId: "" }))).toBe(Code.InvalidArgument);
  });

  it("listJobArtifacts serves JobService.ListJobArtifacts and is NOT_FOUND for an unknown job", async () => {
    await record();
    expect(listJobArtifacts(t.db, "job_a").artifacts.map((a) => a.path)).toEqual(["logs/agent.log"]);
    expect(listJobArtifacts(t.db, "job_b").artifacts).toEqual([]);
    expect(() => listJobArtifacts(t.db, "job_missing")).toThrow(/job job_missing not found/);
  });
});
