/**
 * The original's JSON guest API for jobs that were running when a database was migrated: plain HTTP
 * on 127.0.0.1, a real migrated SQLite file, and a fake lifecycle (these sandboxes are keepalive, so
 * nothing is destroyed; the finalizer's destroy path is covered by the job tests).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { createLogger } from "@agentlab/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { closeDatabase, type SqliteDatabase } from "../../src/db/open-database.js";
import { openMigratedDatabase } from "../../src/db/open-migrated-database.js";
import { EventBus } from "../../src/events/event-bus.js";
import { legacyGuestHttpRoutes } from "../../src/guest/legacy-guest-routes.js";
import { JobFinalizer } from "../../src/jobs/job-finalizer.js";
import { getJob } from "../../src/jobs/job-store.js";
import { ProfileRegistry } from "../../src/profiles/profile-registry.js";
import type { SandboxLifecycle } from "../../src/sandboxes/sandbox-lifecycle.js";
import { SecretsBundleReader } from "../../src/secrets/secrets-bundle.js";
import { mintBootstrapToken } from "../../src/tokens/bootstrap-tokens.js";
import { makeTempDir } from "../db/temp-database-dir.js";

const NOW = "2026-03-01T12:00:00.000Z";

describe("legacy guest routes", () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let db: SqliteDatabase;
  let server: http.Server;
  let base: string;
  const clock = () => new Date(NOW);

  beforeEach(async () => {
    tmp = makeTempDir("agentlab-legacy-");
    ({ db } = await openMigratedDatabase({ dbPath: tmp.dbPath, clock, takeBackup: false, freeBytes: () => 1024 ** 4 }));
    const logger = createLogger({ service: "test", level: "silent" });
    const bus = new EventBus();
    const lifecycle = { isProvisioning: () => false, destroy: async () => undefined } as unknown as SandboxLifecycle;
    const profiles = new ProfileRegistry({ profilesDir: tmp.dir });
    await profiles.load();
    const routes = legacyGuestHttpRoutes({
      db,
      bus,
      clock,
      profiles,
      secrets: new SecretsBundleReader(tmp.dir),
      finalizer: new JobFinalizer({ db, bus, clock, lifecycle, logger }),
      logger,
      settings: {
        heartbeatTimeoutMs: 300_000,
        cancelGraceMs: 120_000,
        uploadGraceMs: 900_000,
        logMaxBytes: 1024,
        artifactTokenTtlMs: 3600_000,
        artifactMaxBytes: 1024,
        artifactUploadUrl: "http://10.77.0.1:8846/upload",
        secretsDir: tmp.dir,
      },
    });
    server = http.createServer((req, res) => {
      if (!routes(req, res)) {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    closeDatabase(db);
    tmp.remove();
  });

  /** A sandbox and job as the original wrote them (no owner tag), or as this version writes them. */
  function seed(vmid: number, jobId: string, options: { ownerTag?: string; ip?: string } = {}): string {
    db.prepare(
      `INSERT INTO sandboxes (vmid, name, profile, state, ip, keepalive, created_at, updated_at, owner_tag)
       VALUES (?, ?, 'default', 'RUNNING', ?, 1, ?, ?, ?)`,
    ).run(vmid, `sandbox-${vmid}`, options.ip ?? "127.0.0.1", NOW, NOW, options.ownerTag ?? null);
    db.prepare(
      `INSERT INTO jobs (id, repo_url, ref, profile, status, sandbox_vmid, created_at, updated_at, task, mode, ttl_minutes, keepalive)
       VALUES (?, 'https://example.test/r.git', 'main', 'default', 'RUNNING', ?, ?, ?, 'fix', 'dangerous', 30, 1)`,
    ).run(jobId, vmid, NOW, NOW);
    return mintBootstrapToken(db, { vmid, jobId: null }, new Date(NOW), 600_000);
  }

  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${base}${path}`, { method: "POST", body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it("serves the original payload once, and takes the original reports from the sandbox's address", async () => {
    const token = seed(7001, "job_00000000000000a1");
    const fetched = await post("/v1/bootstrap/fetch", { token, vmid: 7001 });
    expect(fetched.status).toBe(200);
    expect(fetched.body).toMatchObject({
      job: { id: "job_00000000000000a1", repo_url: "https://example.test/r.git", ref: "main", ttl_minutes: 30 },
      artifact: { endpoint: "http://10.77.0.1:8846/upload" },
    });
    expect((await post("/v1/bootstrap/fetch", { token, vmid: 7001 })).status).toBe(403);

    const running = await post("/v1/runner/report", { job_id: "job_00000000000000a1", vmid: 7001, status: "running" });
    expect(running).toEqual({ status: 200, body: { job_status: "RUNNING", sandbox_status: "RUNNING" } });
    const wrongVmid = await post("/v1/runner/report", {
      job_id: "job_00000000000000a1",
      vmid: 7002,
      status: "RUNNING",
    });
    expect(wrongVmid.status).toBe(409);
    const done = await post("/v1/runner/report", {
      job_id: "job_00000000000000a1",
      vmid: 7001,
      status: "COMPLETED",
      message: "agent finished",
      result: { exit_code: 0 },
    });
    expect(done).toEqual({ status: 200, body: { job_status: "COMPLETED", sandbox_status: "COMPLETED" } });
    const job = getJob(db, "job_00000000000000a1");
    expect(JSON.parse(job.resultJson!)).toMatchObject({ status: "COMPLETED", result: { exit_code: 0 } });
    const again = await post("/v1/runner/report", { job_id: "job_00000000000000a1", vmid: 7001, status: "FAILED" });
    expect(again.status).toBe(409);
    expect(again.body.error).toContain("job already finalized");
  });

  it("refuses reports from another address, and answers 404 for jobs of this version", async () => {
    seed(7003, "job_00000000000000a3", { ip: "10.77.0.9" });
    const foreign = await post("/v1/runner/report", { job_id: "job_00000000000000a3", vmid: 7003, status: "RUNNING" });
    expect(foreign.status).toBe(403);

    const token = seed(7004, "job_00000000000000a4", { ownerTag: "agentlab-prod" });
    expect((await post("/v1/bootstrap/fetch", { token, vmid: 7004 })).body).toEqual({ error: "job not found" });
    const report = await post("/v1/runner/report", { job_id: "job_00000000000000a4", vmid: 7004, status: "RUNNING" });
    expect(report.status).toBe(404);
    // The token of a job of this version is not spent by the legacy route.
    expect(db.prepare("SELECT consumed_at FROM bootstrap_tokens WHERE vmid = 7004").pluck().get()).toBeNull();
    expect((await fetch(`${base}/v1/runner/report`)).status).toBe(405);
    expect((await fetch(`${base}/upload`, { method: "POST" })).status).toBe(404);
  });
});
