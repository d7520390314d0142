import { JobStatus } from "@agentlab/api";
import { Code } from "@connectrpc/connect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SecretsBundleReader, secretValues } from "../../src/secrets/secrets-bundle.js";
import { expectCode } from "./job-guest-helpers.js";
import { JobHarness } from "./job-test-harness.js";

const base = { repoUrl: "https://example.test/r.git", task: "t", profile: "p1" };

describe("RunJob validation, defaults and idempotency", () => {
  let h: JobHarness;
  beforeEach(() => {
    h = new JobHarness({ min: 9530, max: 9539 });
    h.writeProfile("p1");
    h.writeProfile("p2", "secrets_bundle: missing\n");
  });
  afterEach(() => h.cleanup());

  it("refuses bad requests with the right codes", async () => {
    const c = await h.startControl();
    await expectCode(c.jobClient.runJob({ ...base, repoUrl: "" }), Code.InvalidArgument);
    await expectCode(c.jobClient.runJob({ ...base, task: "" }), Code.InvalidArgument);
    await expectCode(c.jobClient.runJob({ ...base, profile: "" }), Code.InvalidArgument);
    await expectCode(c.jobClient.runJob({ ...base, task: "x".repeat(1024 * 1024 + 1) }), Code.InvalidArgument);
    await expectCode(c.jobClient.runJob({ ...base, ttlMinutes: 0 }), Code.InvalidArgument);
    await expectCode(c.jobClient.runJob({ ...base, ttlMinutes: 10_081 }), Code.InvalidArgument);
    await expectCode(c.jobClient.runJob({ ...base, profile: "nope" }), Code.NotFound);
    await expectCode(c.jobClient.runJob({ ...base, profile: "p2" }), Code.NotFound);
    h.writeBundle("open", "env: {}\n", 0o644);
    const err = await expectCode(c.jobClient.runJob({ ...base, secretsBundle: "open" }), Code.FailedPrecondition);
    expect(err.rawMessage).toContain("chmod 0600");
    expect(c.db.prepare("SELECT COUNT(*) FROM jobs").pluck().get()).toBe(0);
  });

  it("fills defaults, keeps only the bundle's name, and returns the same job for the same key", async () => {
    h.writeBundle("b1", "env:\n  TOKEN_X: abcdefghijkl\n");
    const c = await h.startControl();
    const a = (await c.jobClient.runJob({ ...base, idempotencyKey: "k1", secretsBundle: "b1", ttlMinutes: 5 })).job!;
    expect(a).toMatchObject({
      status: JobStatus.QUEUED,
      ref: "main",
      mode: "dangerous",
      ttlMinutes: 5,
      keepalive: false,
    });
    const again = (await c.jobClient.runJob({ ...base, idempotencyKey: "k1", secretsBundle: "b1", ttlMinutes: 5 }))
      .job!;
    expect(again.id).toBe(a.id);
    await expectCode(c.jobClient.runJob({ ...base, idempotencyKey: "k1", task: "other" }), Code.AlreadyExists);
    expect(c.db.prepare("SELECT COUNT(*) FROM jobs").pluck().get()).toBe(1);
    expect(JSON.stringify(c.db.prepare("SELECT * FROM jobs").all())).not.toContain("abcdefghijkl");

    const list = await c.jobClient.listJobs({ pageSize: 1 });
    expect(list.jobs.map((j) => j.id)).toEqual([a.id]);
    const events = await c.jobClient.getJob({ jobId: a.id, eventsTail: 0 });
    expect(events.events).toEqual([]);
  });

  it("pages ListJobs newest first and filters by status", async () => {
    const c = await h.startControl();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push((await c.jobClient.runJob(base)).job!.id);
      h.advance(1000);
    }
    await c.jobClient.cancelJob({ jobId: ids[0]! });
    const page1 = await c.jobClient.listJobs({ pageSize: 2 });
    const page2 = await c.jobClient.listJobs({ pageSize: 2, pageToken: page1.nextPageToken });
    expect([...page1.jobs, ...page2.jobs].map((j) => j.id)).toEqual([...ids].reverse());
    expect(page2.nextPageToken).toBe("");
    const canceled = await c.jobClient.listJobs({ statuses: [JobStatus.CANCELED] });
    expect(canceled.jobs.map((j) => j.id)).toEqual([ids[0]]);
  });
});

describe("secrets bundles", () => {
  let h: JobHarness;
  beforeEach(() => {
    h = new JobHarness({ min: 9540, max: 9541 });
  });
  afterEach(() => h.cleanup());

  it("reads 0600/0400 files, refuses readable ones, missing ones and bad content", () => {
    const reader = new SecretsBundleReader(h.secretsDir);
    h.writeBundle("ok", "env:\n  A_B: value-123456\n  SHORT: abc\ngit:\n  token: tok-abcdefgh\n");
    expect(reader.load("ok").env).toEqual({ A_B: "value-123456", SHORT: "abc" });
    expect(secretValues(reader.load("ok")).sort()).toEqual(["tok-abcdefgh", "value-123456"]);
    h.writeBundle("ro", "env: {}\n", 0o400);
    expect(reader.load("ro").git).toEqual({});
    h.writeBundle("grp", "env: {}\n", 0o640);
    expect(() => reader.load("grp")).toThrow(/chmod 0600/);
    expect(() => reader.load("absent")).toThrow(/not found/);
    expect(() => reader.load("../etc")).toThrow(/invalid secrets bundle name/);
    h.writeBundle("badenv", "env:\n  1BAD: x\n");
    expect(() => reader.load("badenv")).toThrow(/env names must match/);
    h.writeBundle("badkey", "git:\n  password: x\n");
    expect(() => reader.load("badkey")).toThrow(/invalid/);
  });
});
