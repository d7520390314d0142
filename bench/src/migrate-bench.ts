/**
 * Migration benchmark: an original version-1 database with 100k sandboxes, 100k jobs and 1M events,
 * migrated to the latest schema with and without the pre-migration backup.
 * Run: node --import tsx bench/src/migrate-bench.ts   (or npm run bench:migrate -w @agentlab/bench)
 * Smaller runs: BENCH_SANDBOXES, BENCH_JOBS, BENCH_EVENTS.
 */
import { copyFileSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { migrate } from "@agentlab/control/db/migration-runner";
import { closeDatabase, openDatabase } from "@agentlab/control/db/open-database";
import { integrityCheck, schemaVersion } from "@agentlab/control/db/status-queries";
import { buildOriginalV1Database } from "./migrate-original-fixture.js";

const SIZE = {
  sandboxes: Number(process.env.BENCH_SANDBOXES ?? 100_000),
  jobs: Number(process.env.BENCH_JOBS ?? 100_000),
  events: Number(process.env.BENCH_EVENTS ?? 1_000_000),
};
const TARGET_WITHOUT_BACKUP_MS = 10_000;

/** Open, migrate, close (with its WAL checkpoint): what a service start costs. */
async function timedMigration(dbPath: string, takeBackup: boolean): Promise<{ ms: number; backupBytes?: number }> {
  const started = performance.now();
  const db = openDatabase(dbPath);
  const result = await migrate(db, { dbPath, clock: () => new Date(), takeBackup });
  closeDatabase(db);
  const ms = performance.now() - started;
  const check = openDatabase(dbPath, { readonly: true });
  if (schemaVersion(check) !== result.to || !integrityCheck(check, { quick: true }).ok) {
    throw new Error(`bench: ${dbPath} did not reach a healthy schema ${result.to}`);
  }
  closeDatabase(check);
  return { ms, backupBytes: result.backupPath ? statSync(result.backupPath).size : undefined };
}

const dir = mkdtempSync(join(tmpdir(), "agentlab-migrate-bench-"));
try {
  const original = join(dir, "original-v1.db");
  const buildStarted = performance.now();
  buildOriginalV1Database(original, SIZE);
  const buildMs = performance.now() - buildStarted;
  const originalBytes = statSync(original).size;

  const withBackupPath = join(dir, "with-backup.db");
  const withoutBackupPath = join(dir, "without-backup.db");
  copyFileSync(original, withBackupPath);
  copyFileSync(original, withoutBackupPath);
  const withBackup = await timedMigration(withBackupPath, true);
  const withoutBackup = await timedMigration(withoutBackupPath, false);

  const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
  const met = withoutBackup.ms <= TARGET_WITHOUT_BACKUP_MS ? "met" : "MISSED";
  const rows: [string, string][] = [
    ["rows", `${SIZE.sandboxes} sandboxes, ${SIZE.jobs} jobs, ${SIZE.events} events`],
    ["original v1 db size", mib(originalBytes)],
    ["fixture build time", seconds(buildMs)],
    ["migrate v1 -> latest, with backup", seconds(withBackup.ms)],
    ["migrate v1 -> latest, without backup", seconds(withoutBackup.ms)],
    ["backup size", withBackup.backupBytes === undefined ? "-" : mib(withBackup.backupBytes)],
    ["migrated db size", mib(statSync(withoutBackupPath).size)],
    ["target without backup", `<= ${seconds(TARGET_WITHOUT_BACKUP_MS)}: ${met}`],
  ];
  const width = Math.max(...rows.map(([key]) => key.length));
  for (const [key, value] of rows) process.stdout.write(`${key.padEnd(width)}  ${value}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
