import { Code } from "@connectrpc/connect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  authorizeUploadToken,
  DEFAULT_FINISHED_GRACE_MS,
  mintUploadToken,
  revokeUploadTokensForJob,
} from "../../src/artifacts/upload-token-store.js";
import { hashToken } from "../../src/tokens/token-hash.js";
import { type ArtifactTestDb, insertJob, openArtifactTestDb, setJob } from "./artifact-test-db.js";

const HOUR = 3_600_000;

function codeOf(fn: () => unknown): Code | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { code?: Code }).code;
  }
  return undefined;
}

describe("upload tokens", () => {
  let t: ArtifactTestDb;
  beforeEach(async () => {
    t = await openArtifactTestDb();
    insertJob(t.db, { id: "job_a", sandboxVmid: 1001 });
    insertJob(t.db, { id: "job_b", sandboxVmid: 1002 });
  });
  afterEach(() => t.close());

  const now = () => t.fake.clock();

  it("mints a token stored only as its hash, bound to job and VMID", () => {
    const token = mintUploadToken(t.db, { jobId: "job_a", vmid: 1001 }, now(), 24 * HOUR);
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    const row = t.db.prepare("SELECT * FROM artifact_tokens").get() as Record<string, unknown>;
    expect(row).toMatchObject({
      token: hashToken(token),
      job_id: "job_a",
      vmid: 1001,
      created_at: "2025-03-01T12:00:00.000Z",
      expires_at: "2025-03-02T12:00:00.000Z",
      last_used_at: null,
      revoked_at: null,
    });
    expect(JSON.stringify(row)).not.toContain(token);
    expect(() => mintUploadToken(t.db, { jobId: "job_a", vmid: 1001 }, now(), 0)).toThrow(/ttlMs 0/);
  });

  it("authorizes with the job from the token and touches last_used_at, reusably", () => {
    const token = mintUploadToken(t.db, { jobId: "job_a", vmid: 1001 }, now(), HOUR);
    t.fake.advanceMs(60_000);
    expect(authorizeUploadToken(t.db, token, now())).toEqual({ jobId: "job_a", vmid: 1001 });
    t.fake.advanceMs(60_000);
    expect(authorizeUploadToken(t.db, token, now())).toEqual({ jobId: "job_a", vmid: 1001 });
    const { last_used_at } = t.db.prepare("SELECT last_used_at FROM artifact_tokens").get() as { last_used_at: string };
    expect(last_used_at).toBe("2025-03-01T12:02:00.000Z");
  });

  it("refuses unknown, empty, expired and revoked tokens with UNAUTHENTICATED", () => {
    const token = mintUploadToken(t.db, { jobId: "job_a", vmid: 1001 }, now(), HOUR);
    expect(codeOf(() => authorizeUploadToken(t.db, "f".repeat(64), now()))).toBe(Code.Unauthenticated);
    expect(codeOf(() => authorizeUploadToken(t.db, "", now()))).toBe(Code.Unauthenticated);
    // The hash itself is not a token: a leaked database row does not authorize.
    expect(codeOf(() => authorizeUploadToken(t.db, hashToken(token), now()))).toBe(Code.Unauthenticated);

    t.fake.advanceMs(HOUR - 1);
    expect(authorizeUploadToken(t.db, token, now()).jobId).toBe("job_a");
    t.fake.advanceMs(1);
    expect(codeOf(() => authorizeUploadToken(t.db, token, now()))).toBe(Code.Unauthenticated);

    const second = mintUploadToken(t.db, { jobId: "job_a", vmid: 1001 }, now(), HOUR);
    const other = mintUploadToken(t.db, { jobId: "job_b", vmid: 1002 }, now(), HOUR);
    // Both of job_a's rows (the expired one too) are marked; job_b's is untouched.
    expect(revokeUploadTokensForJob(t.db, "job_a", now())).toBe(2);
    expect(codeOf(() => authorizeUploadToken(t.db, second, now()))).toBe(Code.Unauthenticated);
    expect(authorizeUploadToken(t.db, other, now())).toEqual({ jobId: "job_b", vmid: 1002 });
    expect(revokeUploadTokensForJob(t.db, "job_a", now())).toBe(0);
  });

  it("never authorizes another job: each token answers with its own job", () => {
    const a = mintUploadToken(t.db, { jobId: "job_a", vmid: 1001 }, now(), HOUR);
    const b = mintUploadToken(t.db, { jobId: "job_b", vmid: 1002 }, now(), HOUR);
    expect(authorizeUploadToken(t.db, a, now()).jobId).toBe("job_a");
    expect(authorizeUploadToken(t.db, b, now()).jobId).toBe("job_b");
    revokeUploadTokensForJob(t.db, "job_b", now());
    expect(authorizeUploadToken(t.db, a, now()).jobId).toBe("job_a");
  });

  it("keeps working for the grace period after the job finished, then PERMISSION_DENIED", () => {
    const token = mintUploadToken(t.db, { jobId: "job_a", vmid: 1001 }, now(), 24 * HOUR);
    setJob(t.db, "job_a", "COMPLETED", "2025-03-01T12:00:00.000Z");
    t.fake.advanceMs(DEFAULT_FINISHED_GRACE_MS);
    expect(authorizeUploadToken(t.db, token, now()).jobId).toBe("job_a");
    t.fake.advanceMs(1);
    expect(codeOf(() => authorizeUploadToken(t.db, token, now()))).toBe(Code.PermissionDenied);
    expect(authorizeUploadToken(t.db, token, now(), { finishedGraceMs: HOUR }).jobId).toBe("job_a");
  });

  it("falls back to updated_at of a final status when finished_at is missing", () => {
    const token = mintUploadToken(t.db, { jobId: "job_a", vmid: 1001 }, now(), 24 * HOUR);
    t.fake.advanceMs(HOUR);
    // Still running: however old updated_at is, the token works.
    expect(authorizeUploadToken(t.db, token, now()).jobId).toBe("job_a");
    for (const status of ["FAILED", "TIMEOUT", "CANCELED"]) {
      setJob(t.db, "job_a", status, null, "2025-03-01T12:00:00.000Z");
      expect(codeOf(() => authorizeUploadToken(t.db, token, now()))).toBe(Code.PermissionDenied);
    }
    setJob(t.db, "job_a", "COMPLETED", null, "2025-03-01T12:55:00.000Z");
    expect(authorizeUploadToken(t.db, token, now()).jobId).toBe("job_a");
  });
});
