import { existsSync, readdirSync, rmSync } from "node:fs";
import { basename, join } from "node:path";

/** Pre-migration backups are kept at least this long (DESIGN §4). */
export const BACKUP_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;

const STAMP = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/** `20250115T100000Z`: sortable, and safe in file names on every filesystem. */
export function backupStamp(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}Z$/, "Z");
}

function parseStamp(stamp: string): number | undefined {
  const m = STAMP.exec(stamp);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m;
  return Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
}

/**
 * `<db>.backup-<stamp>-v<from>` in `backupDir`, with `-<n>` appended should two runs share a second.
 * The name carries the time and the schema version it holds, so retention never trusts mtimes.
 */
export function preMigrationBackupPath(dbPath: string, backupDir: string, at: Date, fromVersion: number): string {
  const base = join(backupDir, `${basename(dbPath)}.backup-${backupStamp(at)}-v${fromVersion}`);
  let candidate = base;
  for (let n = 2; existsSync(candidate); n++) candidate = `${base}-${n}`;
  return candidate;
}

export interface PreMigrationBackup {
  readonly path: string;
  readonly takenAt: number;
  readonly fromVersion: number;
}

export function listPreMigrationBackups(dbPath: string, backupDir: string): PreMigrationBackup[] {
  const prefix = `${basename(dbPath)}.backup-`;
  const pattern = /^(\d{8}T\d{6}Z)-v(\d+)(?:-\d+)?$/;
  const backups: PreMigrationBackup[] = [];
  for (const entry of existsSync(backupDir) ? readdirSync(backupDir) : []) {
    if (!entry.startsWith(prefix)) continue;
    const m = pattern.exec(entry.slice(prefix.length));
    const takenAt = m ? parseStamp(m[1]!) : undefined;
    if (!m || takenAt === undefined) continue;
    backups.push({ path: join(backupDir, entry), takenAt, fromVersion: Number(m[2]) });
  }
  return backups.sort((a, b) => a.takenAt - b.takenAt || a.path.localeCompare(b.path));
}

/**
 * Deletes pre-migration backups older than the retention window, never the newest one (it may be
 * the only way back even after a quiet month). Returns the deleted paths.
 */
export function prunePreMigrationBackups(
  dbPath: string,
  backupDir: string,
  now: Date,
  retentionMs: number = BACKUP_RETENTION_MS,
): string[] {
  const backups = listPreMigrationBackups(dbPath, backupDir);
  const newest = backups.at(-1);
  const cutoff = now.getTime() - retentionMs;
  const deleted: string[] = [];
  for (const backup of backups) {
    if (backup === newest || backup.takenAt >= cutoff) continue;
    for (const suffix of ["", "-wal", "-shm"]) rmSync(`${backup.path}${suffix}`, { force: true });
    deleted.push(backup.path);
  }
  return deleted;
}
