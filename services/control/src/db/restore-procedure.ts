/** systemd unit of the single-host install (upgrade guide); split installs run agentlab-control. */
const SERVICE_UNIT = "agentlabd.service";

const quote = (path: string): string => `'${path.replaceAll("'", "'\\''")}'`;

/**
 * Step-by-step restore text printed with a failed or refused migration. Removing `-wal` and `-shm`
 * matters: a WAL left from the newer database would be replayed onto the restored file.
 */
export function restoreProcedure(dbPath: string, backupPath?: string): string {
  const backup = backupPath ? quote(backupPath) : `<a backup of ${dbPath}>`;
  return [
    "To restore the database from the backup:",
    `  1. Stop the service:              sudo systemctl stop ${SERVICE_UNIT}  (or agentlab-control.service)`,
    `  2. Copy the backup over the db:   sudo cp ${backup} ${quote(dbPath)}`,
    `  3. Remove stale WAL/SHM files:    sudo rm -f ${quote(`${dbPath}-wal`)} ${quote(`${dbPath}-shm`)}`,
    `  4. Start the release that matches the backup's schema: sudo systemctl start ${SERVICE_UNIT}`,
    "  5. Investigate the cause (disk space, permissions, manual schema edits) before retrying the upgrade.",
  ].join("\n");
}
