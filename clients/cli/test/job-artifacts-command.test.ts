/**
 * `job artifacts` against real in-process servers on Unix sockets: control's routes (JobService
 * ListJobArtifacts, ArtifactRegistryService) over a real SQLite file, and a minimal ArtifactService
 * DownloadArtifact that streams the recorded files, or a corrupted copy when asked.
 */
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { ArtifactService, DownloadArtifactResponseSchema, JobService } from "@agentlab/api";
import { listJobArtifacts, listStoredArtifacts } from "@agentlab/control/artifacts/job-artifacts";
import { recordArtifact } from "@agentlab/control/artifacts/record-artifact";
import { mintUploadToken } from "@agentlab/control/artifacts/upload-token-store";
import { closeDatabase, type SqliteDatabase } from "@agentlab/control/db/open-database";
import { openMigratedDatabase } from "@agentlab/control/db/open-migrated-database";
import { EventBus } from "@agentlab/control/events/event-bus";
import { type Listener, listen, NotFoundError } from "@agentlab/core";
import { create } from "@bufbuild/protobuf";
import { Command } from "commander";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { registerJobArtifactsCommands } from "../src/commands/job-artifacts-command.js";

const NOW = new Date("2025-03-01T12:00:00.000Z");
const clock = () => new Date(NOW.getTime());

describe("agentlab job artifacts", () => {
  let tmp: string;
  let artifactDir: string;
  let outDir: string;
  let db: SqliteDatabase;
  let control: Listener;
  let artifacts: Listener;
  let corrupt: "no" | "flip" | "short" = "no";
  let stdout: string[];

  beforeEach(async () => {
    tmp = mkdtempSync(join(tmpdir(), "agentlab-cli-art-"));
    artifactDir = join(tmp, "artifacts");
    outDir = join(tmp, "out");
    mkdirSync(outDir);
    ({ db } = await openMigratedDatabase({
      dbPath: join(tmp, "agentlab.db"),
      clock,
      freeBytes: () => 1024 ** 4,
      takeBackup: false,
    }));
    db.prepare(
      `INSERT INTO jobs (id, repo_url, ref, profile, status, sandbox_vmid, created_at, updated_at)
       VALUES ('job_0123456789abcdef', 'https://example.test/r.git', 'main', 'default', 'RUNNING', 1001, ?, ?)`,
    ).run(NOW.toISOString(), NOW.toISOString());

    control = await listen({
      endpoint: { unix: { path: join(tmp, "control.sock") } },
      connectRoutes(router) {
        router.service(JobService, { listJobArtifacts: (req) => listJobArtifacts(db, req.jobId) });
      },
    });
    artifacts = await listen({
      endpoint: { unix: { path: join(tmp, "artifacts.sock") } },
      connectRoutes(router) {
        router.service(ArtifactService, {
          async *downloadArtifact(req) {
            const rows = listStoredArtifacts(db, req.jobId).artifacts.filter((row) => {
              const a = row.artifact!;
              if (req.selector.case === "artifactId") return a.id === req.selector.value;
              if (req.selector.case === "path") return a.path === req.selector.value;
              if (req.selector.case === "name") return a.name === req.selector.value;
              return a.name === "agentlab-artifacts.tar.gz";
            });
            const row = rows.at(-1);
            if (!row) throw new NotFoundError({ message: "no such artifact" });
            yield create(DownloadArtifactResponseSchema, { part: { case: "artifact", value: row.artifact! } });
            let content = Buffer.from(readFileSync(join(artifactDir, row.storedPath)));
            if (corrupt === "flip") content[content.length - 1] = (content.at(-1) ?? 0) ^ 0xff;
            if (corrupt === "short") content = content.subarray(0, content.length - 1);
            for (let i = 0; i < content.length; i += 1000) {
              yield create(DownloadArtifactResponseSchema, {
                part: { case: "chunk", value: content.subarray(i, i + 1000) },
              });
            }
          },
        });
      },
    });
    corrupt = "no";
    stdout = [];
    vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      stdout.push(String(chunk));
      return true;
    });
  });

  afterEach(async () => {
    vi.restoreAllMocks();
    await control.close();
    await artifacts.close();
    closeDatabase(db);
    rmSync(tmp, { recursive: true, force: true });
  });

  /** Stores a file the way the artifacts service would and records it through control's logic. */
  function upload(path: string, content: Buffer, suffix: string): string {
    const token = mintUploadToken(db, { jobId: "job_0123456789abcdef", vmid: 1001 }, NOW, 3_600_000);
    const storedPath = `job_0123456789abcdef/${path}.${suffix}`;
    mkdirSync(dirname(join(artifactDir, storedPath)), { recursive: true });
    writeFileSync(join(artifactDir, storedPath), content);
    const sha256 = createHash("sha256").update(content).digest("hex");
    recordArtifact(
      { db, bus: new EventBus(), clock, maxBytes: 10_000_000 },
      { token, path, storedPath, sizeBytes: BigInt(content.length), sha256, mime: "" },
    );
    return sha256;
  }

  function run(...args: string[]): Promise<Command> {
    const program = new Command("agentlab")
      .exitOverride()
      .option("--socket <path>")
      .option("--artifacts-socket <path>")
      .option("-o, --output <format>")
      .option("--json")
      .option("--timeout <duration>", "", "30s");
    const job = program.command("job").exitOverride();
    registerJobArtifactsCommands(job);
    for (const sub of job.commands) sub.exitOverride();
    return program.parseAsync(
      ["--socket", control.address, "--artifacts-socket", artifacts.address, "job", "artifacts", ...args],
      { from: "user" },
    );
  }

  const oldBundle = Buffer.alloc(3000, "a");
  const bundle = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));
  const patch = Buffer.from("diff --git a/x b/x\n");

  it("lists a job's artifacts as a table", async () => {
    upload("agentlab-artifacts.tar.gz", bundle, "aaaa");
    upload("changes.patch", patch, "bbbb");
    await run("job_0123456789abcdef");
    const table = stdout.join("");
    expect(table).toMatch(/^ID\s+NAME\s+PATH\s+SIZE\s+MIME\s+CREATED\s+SHA256/);
    expect(table).toContain("changes.patch");
    expect(table).toContain("4.9 KiB");
  });

  it("prints JSON with proto field names", async () => {
    const sha = upload("changes.patch", patch, "bbbb");
    await run("job_0123456789abcdef", "--json");
    const json = JSON.parse(stdout.join(""));
    expect(json).toEqual([
      {
        id: 1,
        job_id: "job_0123456789abcdef",
        vmid: 1001,
        name: "changes.patch",
        path: "changes.patch",
        size_bytes: patch.length,
        sha256: sha,
        mime: "application/octet-stream",
        created_at: "2025-03-01T12:00:00Z",
      },
    ]);
  });

  it("downloads the latest bundle by default, verified, into --out DIR", async () => {
    upload("agentlab-artifacts.tar.gz", oldBundle, "aaaa");
    const sha = upload("agentlab-artifacts.tar.gz", bundle, "cccc");
    await run("download", "job_0123456789abcdef", "--out", outDir);
    const out = join(outDir, "agentlab-artifacts.tar.gz");
    expect(readFileSync(out).equals(bundle)).toBe(true);
    expect(stdout.join("")).toBe(`downloaded agentlab-artifacts.tar.gz to ${out} (4.9 KiB, sha256 ${sha})\n`);
    expect(readdirSync(outDir)).toEqual(["agentlab-artifacts.tar.gz"]);
  });

  it("selects by --path, --name or --id, and --out FILE names the file", async () => {
    upload("agentlab-artifacts.tar.gz", bundle, "aaaa");
    upload("changes.patch", patch, "bbbb");
    await run("download", "job_0123456789abcdef", "--path", "changes.patch", "--out", join(outDir, "p.diff"));
    expect(readFileSync(join(outDir, "p.diff"), "utf8")).toBe(patch.toString());
    await run("download", "job_0123456789abcdef", "--name", "changes.patch", "--out", `${outDir}/`);
    expect(readFileSync(join(outDir, "changes.patch")).equals(patch)).toBe(true);
    await run("download", "job_0123456789abcdef", "--id", "1", "--out", join(outDir, "one"));
    expect(readFileSync(join(outDir, "one")).equals(bundle)).toBe(true);
    await expect(run("download", "job_0123456789abcdef", "--id", "1", "--name", "x")).rejects.toThrow(
      /one of --path, --name or --id/,
    );
  });

  it("refuses a corrupted download: no file, no temp file, an error naming the mismatch", async () => {
    const sha = upload("agentlab-artifacts.tar.gz", bundle, "aaaa");
    corrupt = "flip";
    await expect(run("download", "job_0123456789abcdef", "--out", outDir)).rejects.toThrow(
      new RegExp(`failed verification: expected 5000 bytes with sha256 ${sha}, received 5000 bytes`),
    );
    expect(readdirSync(outDir)).toEqual([]);
    corrupt = "short";
    await expect(run("download", "job_0123456789abcdef", "--out", outDir)).rejects.toThrow(/received 4999 bytes/);
    expect(readdirSync(outDir)).toEqual([]);
  });

  it("reports an unknown job and an unreachable artifacts socket clearly", async () => {
    await expect(run("missing_job")).rejects.toThrow(/job missing_job not found/);
    await artifacts.close();
    await expect(run("download", "job_0123456789abcdef", "--out", outDir)).rejects.toThrow(
      /cannot reach the agentlab artifacts service at .*artifacts\.sock/,
    );
    expect(readdirSync(outDir)).toEqual([]);
  });
});
