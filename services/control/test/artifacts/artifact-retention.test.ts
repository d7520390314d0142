import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type ArtifactRetentionDeps,
  createArtifactRetention,
  type RetentionTimer,
} from "../../src/artifacts/artifact-retention.js";
import { retentionFromRegistry } from "../../src/artifacts/retention-profile-lookup.js";
import {
  type ArtifactTestDb,
  artifactIds,
  eventsOfKind,
  insertJob,
  insertMigratedArtifact,
  insertSandbox,
  type JobSeed,
  openArtifactTestDb,
  silentLogger,
} from "./artifact-test-db.js";

const DAY_MINUTES = 24 * 60;
const DAY_MS = DAY_MINUTES * 60_000;

interface DeleteCall {
  jobId: string;
  ids: bigint[];
  storedPaths: string[];
}

/** A deleter that records calls and confirms every id unless told otherwise. */
function fakeDeleter() {
  const calls: DeleteCall[] = [];
  let behaviour: (call: DeleteCall) => bigint[] = (call) => call.ids;
  return {
    calls,
    confirm(fn: (call: DeleteCall) => bigint[]) {
      behaviour = fn;
    },
    fn: async (jobId: string, ids: bigint[], storedPaths: string[]) => {
      const call = { jobId, ids, storedPaths };
      calls.push(call);
      return { deletedIds: behaviour(call) };
    },
  };
}

describe("artifact retention", () => {
  let t: ArtifactTestDb;
  let deleter: ReturnType<typeof fakeDeleter>;
  const retention: Record<string, number | undefined> = { short: DAY_MINUTES, off: undefined };

  beforeEach(async () => {
    t = await openArtifactTestDb();
    deleter = fakeDeleter();
  });
  afterEach(() => t.close());

  function retentionLoop(over: Partial<ArtifactRetentionDeps> = {}) {
    return createArtifactRetention({
      db: t.db,
      bus: t.bus,
      clock: t.fake.clock,
      profiles: (name) => retention[name],
      deleteArtifacts: deleter.fn,
      logger: silentLogger,
      ...over,
    });
  }

  /** A finished job (profile `short`, finished at START) whose sandbox is destroyed, with one artifact. */
  function finishedJob(id: string, vmid: number, over: Partial<JobSeed> = {}) {
    insertSandbox(t.db, vmid, "DESTROYED");
    insertJob(t.db, {
      id,
      status: "COMPLETED",
      profile: "short",
      sandboxVmid: vmid,
      finishedAt: "2025-03-01T12:00:00.000Z",
      ...over,
    });
    return insertMigratedArtifact(t.db, { jobId: id, path: "agentlab-artifacts.tar.gz", vmid, size: 100 });
  }

  it("deletes only eligible artifacts and records one artifact.gc per job", async () => {
    const eligible = finishedJob("job_done", 1001);
    const eligible2 = insertMigratedArtifact(t.db, { jobId: "job_done", path: "changes.patch", vmid: 1001, size: 5 });
    const running = finishedJob("job_running", 1002, { status: "RUNNING", finishedAt: null });
    const alive = finishedJob("job_alive", 1003);
    t.db.prepare("UPDATE sandboxes SET state = 'COMPLETED' WHERE vmid = 1003").run(); // keepalive sandbox
    const off = finishedJob("job_off", 1004, { profile: "off" });
    const unknownProfile = finishedJob("job_unknown", 1005, { profile: "gone" });
    const young = finishedJob("job_young", 1006, { finishedAt: "2025-03-02T11:00:00.000Z" });
    // No sandbox row at all counts as gone; the fallback to updated_at applies without finished_at.
    insertJob(t.db, { id: "job_nosandbox", status: "CANCELED", profile: "short", sandboxVmid: null });
    const noSandbox = insertMigratedArtifact(t.db, { jobId: "job_nosandbox", path: "x.log", vmid: null, size: 7 });

    t.fake.advanceMs(DAY_MS + 1);
    const result = await retentionLoop().runOnce();

    expect(result).toEqual({ deleted: 3, bytes: 112, failedJobs: [] });
    expect(artifactIds(t.db)).toEqual([running, alive, off, unknownProfile, young]);
    expect(deleter.calls).toEqual([
      {
        jobId: "job_done",
        ids: [BigInt(eligible), BigInt(eligible2)],
        storedPaths: ["job_done/agentlab-artifacts.tar.gz", "job_done/changes.patch"],
      },
      { jobId: "job_nosandbox", ids: [BigInt(noSandbox)], storedPaths: ["job_nosandbox/x.log"] },
    ]);
    const gc = eventsOfKind(t.db, "artifact.gc");
    expect(gc.map((e) => [e.jobId, e.sandboxVmid, e.payload])).toEqual([
      ["job_done", 1001, { count: 2, bytes: 105 }],
      ["job_nosandbox", null, { count: 1, bytes: 7 }],
    ]);
    expect(t.published.map((e) => e.id)).toEqual(gc.map((e) => e.id));

    // Exactly at the boundary the young job is kept; one millisecond later it goes.
    t.fake.set("2025-03-03T11:00:00.000Z");
    expect((await retentionLoop().runOnce()).deleted).toBe(0);
    t.fake.advanceMs(1);
    expect((await retentionLoop().runOnce()).deleted).toBe(1);
    expect(artifactIds(t.db)).not.toContain(young);
  });

  it("keeps artifacts when the profile lookup throws or answers nonsense", async () => {
    finishedJob("job_a", 1001);
    t.fake.advanceMs(2 * DAY_MS);
    const throwing = retentionLoop({
      profiles: () => {
        throw new Error("profile registry not loaded");
      },
    });
    expect((await throwing.runOnce()).deleted).toBe(0);
    expect((await retentionLoop({ profiles: () => Number.NaN }).runOnce()).deleted).toBe(0);
    expect((await retentionLoop({ profiles: () => -5 }).runOnce()).deleted).toBe(0);
    expect(deleter.calls).toEqual([]);
  });

  it("reads retention from the profile registry; unknown profiles keep their artifacts", () => {
    const profiles = new Map([
      ["days", { profile: { artifacts: { retention_days: 2 } } }],
      ["forever", { profile: { artifacts: {} } }],
    ]);
    const lookup = retentionFromRegistry({
      find: (name) => profiles.get(name) as ReturnType<Parameters<typeof retentionFromRegistry>[0]["find"]>,
    });
    expect(lookup("days")).toBe(2 * 24 * 60);
    expect(lookup("forever")).toBeUndefined();
    expect(lookup("missing")).toBeUndefined();
  });

  it("keeps an artifact whose uploading sandbox still exists", async () => {
    const id = finishedJob("job_a", 1001);
    insertSandbox(t.db, 2000, "RUNNING");
    t.db.prepare("UPDATE artifacts SET vmid = 2000 WHERE id = ?").run(id);
    t.fake.advanceMs(2 * DAY_MS);
    expect((await retentionLoop().runOnce()).deleted).toBe(0);
    expect(deleter.calls).toEqual([]);
  });

  it("removes only rows whose ids the deleter confirmed, ignoring ids it was not asked about", async () => {
    const first = finishedJob("job_a", 1001);
    const second = insertMigratedArtifact(t.db, { jobId: "job_a", path: "changes.patch", vmid: 1001, size: 5 });
    const bystander = finishedJob("job_b", 1002, { profile: "off" });
    deleter.confirm((call) => [call.ids[1]!, BigInt(bystander)]);
    t.fake.advanceMs(2 * DAY_MS);
    const result = await retentionLoop().runOnce();
    expect(result).toEqual({ deleted: 1, bytes: 5, failedJobs: [] });
    expect(artifactIds(t.db)).toEqual([first, bystander]);
    expect(eventsOfKind(t.db, "artifact.gc").map((e) => e.payload)).toEqual([{ count: 1, bytes: 5 }]);
    expect(second).toBeGreaterThan(first);

    // Nothing confirmed: no row deleted and no event.
    deleter.confirm(() => []);
    expect((await retentionLoop().runOnce()).deleted).toBe(0);
    expect(eventsOfKind(t.db, "artifact.gc")).toHaveLength(1);
  });

  it("a failing DeleteArtifacts deletes no row, the other jobs still proceed, the next run retries", async () => {
    const a = finishedJob("job_a", 1001);
    finishedJob("job_b", 1002);
    deleter.confirm((call) => {
      if (call.jobId === "job_a") throw new Error("artifacts service unavailable");
      return call.ids;
    });
    t.fake.advanceMs(2 * DAY_MS);
    expect(await retentionLoop().runOnce()).toEqual({ deleted: 1, bytes: 100, failedJobs: ["job_a"] });
    expect(artifactIds(t.db)).toEqual([a]);
    expect(eventsOfKind(t.db, "artifact.gc").map((e) => e.jobId)).toEqual(["job_b"]);

    deleter.confirm((call) => call.ids);
    expect((await retentionLoop().runOnce()).deleted).toBe(1);
    expect(artifactIds(t.db)).toEqual([]);
  });

  it("bounds each run to the batch size and drains the backlog over later runs", async () => {
    finishedJob("job_a", 1001);
    for (let i = 0; i < 4; i++) insertMigratedArtifact(t.db, { jobId: "job_a", path: `f${i}`, vmid: 1001, size: 1 });
    finishedJob("job_b", 1002);
    t.fake.advanceMs(2 * DAY_MS);
    const loop = retentionLoop({ batchSize: 3 });
    expect((await loop.runOnce()).deleted).toBe(3);
    expect(deleter.calls.map((c) => c.ids.length)).toEqual([3]);
    expect((await loop.runOnce()).deleted).toBe(3);
    expect((await loop.runOnce()).deleted).toBe(0);
    expect(artifactIds(t.db)).toEqual([]);
  });

  it("start runs a pass at once and on every tick of the injected timer; stop clears it", async () => {
    const ticks: Array<() => void> = [];
    let cleared = 0;
    const timer: RetentionTimer = {
      setInterval(callback, ms) {
        expect(ms).toBe(60_000);
        ticks.push(callback);
        return "handle";
      },
      clearInterval(handle) {
        expect(handle).toBe("handle");
        cleared++;
      },
    };
    finishedJob("job_a", 1001);
    t.fake.advanceMs(2 * DAY_MS);
    const loop = retentionLoop({ timer });
    loop.start(60_000);
    loop.start(60_000); // idempotent
    expect(ticks).toHaveLength(1);
    await loop.runOnce(); // joins the pass start() began
    expect(deleter.calls).toHaveLength(1);
    expect(artifactIds(t.db)).toEqual([]);

    finishedJob("job_b", 1002);
    ticks[0]!();
    await loop.stop();
    expect(cleared).toBe(1);
    expect(deleter.calls.map((c) => c.jobId)).toEqual(["job_a", "job_b"]);
    expect(artifactIds(t.db)).toEqual([]);
  });
});
