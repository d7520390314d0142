/**
 * The data-layer commands an operator runs around an upgrade, through the real agentlabd binary on
 * real SQLite files: `migrate --dry-run` and `migrate`, the refusals of schemas this build cannot
 * run, `backup` / `restore`, `--config-check`, and profile reload by SIGHUP and `profile reload`.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { buildOriginalDatabase } from "../../services/control/test/db/original-database-builder.js";
import { buildDatabaseAt, LATEST_VERSION, readAllRows, schemaVersionOf } from "./support/upgrade-databases.js";
import {
  agentlabdCommand,
  cliJson,
  cliOk,
  createUpgradeDeployment,
  installShippedProfile,
  localBackendConfig,
  type RunningAgentlabd,
  runProcess,
  startAgentlabd,
  type UpgradeDeployment,
  writeConfig,
} from "./support/upgrade-deployment.js";

const OWNER_TAG = "agentlab-upgrade";

describe("agentlabd data-layer commands", () => {
  let deployment: UpgradeDeployment;
  let config: Record<string, unknown>;
  let dbPath: string;

  beforeAll(async () => {
    deployment = createUpgradeDeployment("commands");
    installShippedProfile(deployment, "local-ephemeral");
    config = await localBackendConfig();
  });
  afterAll(() => deployment?.remove());

  /** A fresh database file per test, named for it, with the config pointing at it. */
  const useDatabase = (name: string) => {
    dbPath = join(deployment.dataDir, `${name}.db`);
    writeConfig(deployment, { ...config, db_path: dbPath });
    return dbPath;
  };
  const backupsOf = (path: string) =>
    readdirSync(deployment.dataDir).filter((f) => f.startsWith(`${basename(path)}.backup-`));
  const fileBytes = (path: string) => readFileSync(path);

  it("migrate --dry-run lists the pending migrations and changes nothing", async () => {
    const db = useDatabase("dry-run");
    await buildDatabaseAt(
      db,
      { kind: "ours", version: 5 },
      { artifactDir: deployment.artifactDir, ownerTag: OWNER_TAG },
    );
    const before = fileBytes(db);

    const result = await agentlabdCommand(deployment, ["migrate", "--dry-run"]);
    expect(result.code, result.stderr).toBe(0);
    const pending = result.stdout.split("\n").filter((line) => line.startsWith("pending: "));
    expect(pending).toEqual(
      Array.from({ length: LATEST_VERSION - 5 }, (_, i) =>
        expect.stringMatching(new RegExp(`^pending: ${i + 6} [a-z_]+$`)),
      ),
    );
    expect(result.stdout).toContain("pending: 6 unique_active_sandbox_names");
    expect(result.stdout).toContain(`${LATEST_VERSION - 5} migration(s) would be applied`);
    expect(fileBytes(db).equals(before)).toBe(true);
    expect(schemaVersionOf(db)).toBe(5);
    expect(backupsOf(db)).toEqual([]);
  });

  it("migrate applies them, prints the backup path, and a second run has nothing to do", async () => {
    const db = useDatabase("migrate");
    await buildDatabaseAt(
      db,
      { kind: "ours", version: 5 },
      { artifactDir: deployment.artifactDir, ownerTag: OWNER_TAG },
    );
    const rowsBefore = readAllRows(db);

    const result = await agentlabdCommand(deployment, ["migrate"]);
    expect(result.code, result.stderr).toBe(0);
    const backupLine = result.stdout.split("\n").find((line) => line.startsWith("backup: "));
    expect(backupLine).toBeDefined();
    const backupPath = backupLine!.slice("backup: ".length);
    expect(backupPath).toMatch(new RegExp(`^${db.replaceAll(".", "\\.")}\\.backup-\\d{8}T\\d{6}Z-v5$`));
    expect(existsSync(backupPath)).toBe(true);
    expect(schemaVersionOf(backupPath)).toBe(5);
    expect(readAllRows(backupPath)).toEqual(rowsBefore);
    expect(result.stdout).toContain("applied migration 6 unique_active_sandbox_names");
    expect(result.stdout).toContain(`database now at version ${LATEST_VERSION}`);
    expect(schemaVersionOf(db)).toBe(LATEST_VERSION);

    const again = await agentlabdCommand(deployment, ["migrate"]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`is at version ${LATEST_VERSION}: nothing to migrate`);
  });

  it("refuses a database carrying the original's migration 4 add_sandbox_last_used_at", async () => {
    const db = useDatabase("original-v4");
    buildOriginalDatabase(db, 3);
    // What the original's next release did to it (reference §1.1, migration 4).
    const sqlite = new Database(db);
    sqlite.exec(`ALTER TABLE sandboxes ADD COLUMN last_used_at TEXT`);
    sqlite
      .prepare(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (4, 'add_sandbox_last_used_at', ?)`)
      .run("2025-02-14T10:00:00.123456789Z");
    sqlite.close();
    const before = fileBytes(db);

    for (const args of [["migrate"], []]) {
      const result = await agentlabdCommand(deployment, args);
      expect(result.code, `agentlabd ${args.join(" ")}`).toBe(1);
      expect(result.stderr).toContain("migration 4 add_sandbox_last_used_at");
      expect(result.stderr).toContain("later release of the original Go AgentLab");
      expect(result.stderr).toContain("To restore the database from the backup:");
    }
    expect(fileBytes(db).equals(before)).toBe(true);
    expect(backupsOf(db)).toEqual([]);
  });

  it("refuses a database newer than this binary, naming both versions and the restore procedure", async () => {
    const db = useDatabase("newer");
    await buildDatabaseAt(
      db,
      { kind: "ours", version: LATEST_VERSION },
      {
        artifactDir: deployment.artifactDir,
        ownerTag: OWNER_TAG,
      },
    );
    const newer = LATEST_VERSION + 1;
    const sqlite = new Database(db);
    sqlite
      .prepare(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'add_from_the_future', ?)`)
      .run(newer, "2030-01-01T00:00:00.000Z");
    sqlite.close();

    for (const args of [["migrate"], []]) {
      const result = await agentlabdCommand(deployment, args);
      expect(result.code, `agentlabd ${args.join(" ")}`).toBe(1);
      expect(result.stderr).toContain(`is at schema version ${newer} (add_from_the_future)`);
      expect(result.stderr).toContain(`newest known: ${LATEST_VERSION}`);
      expect(result.stderr).toContain("To restore the database from the backup:");
      expect(result.stderr).toContain(`sudo rm -f '${db}-wal' '${db}-shm'`);
    }
    expect(schemaVersionOf(db)).toBe(newer);
  });

  describe("backup, restore, and profile reload around a running agentlabd", () => {
    let daemon: RunningAgentlabd | undefined;
    const profileFile = () => join(deployment.profilesDir, "local-ephemeral.yaml");
    afterEach(async () => {
      // Every test here leaves the daemon stopped; one that failed half-way must not leak it.
      if (daemon) expect(await daemon.stop(), daemon.stderr()).toBe(0);
      daemon = undefined;
    });

    it("backup --out then restore --from round-trips, and restore is refused while agentlabd runs", async () => {
      const db = useDatabase("round-trip");
      await buildDatabaseAt(
        db,
        { kind: "ours", version: 11 },
        {
          artifactDir: deployment.artifactDir,
          ownerTag: OWNER_TAG,
        },
      );
      expect((await agentlabdCommand(deployment, ["migrate"])).code).toBe(0);
      const saved = readAllRows(db);
      const out = join(deployment.dir, "manual-backup.db");

      const backedUp = await agentlabdCommand(deployment, ["backup", "--out", out]);
      expect(backedUp.code, backedUp.stderr).toBe(0);
      expect(backedUp.stdout).toContain(`backed up ${db} to ${out}`);
      expect(readAllRows(out)).toEqual(saved);

      // Change the live database through the API: a workspace the backup does not have.
      daemon = await startAgentlabd(deployment);
      await cliOk(deployment, ["workspace", "create", "--name", "after-backup", "--size", "1"]);
      const refused = await agentlabdCommand(deployment, ["restore", "--from", out]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(`refusing to restore ${db} while AgentLab is running`);
      expect(await daemon.stop(), daemon.stderr()).toBe(0);
      daemon = undefined;
      expect((readAllRows(db).workspaces ?? []).map((w) => w.name)).toContain("after-backup");

      const restored = await agentlabdCommand(deployment, ["restore", "--from", out]);
      expect(restored.code, restored.stderr).toBe(0);
      expect(restored.stdout).toContain(`restored ${out} to ${db} (schema version ${LATEST_VERSION})`);
      expect(existsSync(`${db}-wal`) && readFileSync(`${db}-wal`).length > 0).toBe(false);
      expect(readAllRows(db)).toEqual(saved);
    });

    it("answers docs/api.md's curl call with Connect JSON in proto field names", async () => {
      useDatabase("curl");
      daemon = await startAgentlabd(deployment);
      const curl = await runProcess("curl", [
        "-sS",
        "--unix-socket",
        deployment.socketPath,
        "-H",
        "content-type: application/json",
        "-d",
        "{}",
        "http://localhost/agentlab.control.v1.SystemService/GetStatus",
      ]);
      expect(curl.code, curl.stderr).toBe(0);
      const status = JSON.parse(curl.stdout) as Record<string, unknown>;
      expect(status).toMatchObject({
        schema_version: LATEST_VERSION,
        latest_schema_version: LATEST_VERSION,
        deployment_id: "upgrade",
        sandbox_backend: "local",
        database_path: dbPath,
      });
      expect(Object.keys(status).filter((key) => /[A-Z]/.test(key))).toEqual([]);
    });

    it("SIGHUP keeps the last good profile on a broken edit and shows the error; profile reload after the fix is ok", async () => {
      useDatabase("reload");
      const good = readFileSync(profileFile(), "utf8");
      daemon = await startAgentlabd(deployment);
      type ProfileJson = { name: string; status: string; errors: { file: string; line?: number; message: string }[] };
      const localProfile = async () =>
        (await cliJson<ProfileJson[]>(deployment, ["profile", "list"])).find((p) => p.name === "local-ephemeral");
      expect(await localProfile()).toMatchObject({ status: "OK", errors: [] });

      writeFileSync(profileFile(), good.replace("cores: 2", 'cores: "many"'));
      process.kill(daemon.pid, "SIGHUP");
      // The reload runs in the background: ask until it has been seen (vitest's timeout bounds this).
      let broken = await localProfile();
      while (broken?.errors.length === 0) broken = await localProfile();
      expect(broken?.errors[0]).toMatchObject({ file: profileFile(), line: expect.any(Number) });
      expect(broken?.errors[0]?.message).toMatch(/cores/);
      // Still usable: the last good version stays loaded.
      expect(await cliOk(deployment, ["profile", "list"])).toMatch(
        /error: local-ephemeral: .*local-ephemeral\.yaml:\d+/,
      );
      const sandbox = await cliJson<{ name: string; state: string }>(deployment, [
        "sandbox",
        "new",
        "--name",
        "after-broken-edit",
        "--profile",
        "local-ephemeral",
      ]);
      expect(sandbox.state).toBe("READY");
      await cliOk(deployment, ["sandbox", "destroy", "after-broken-edit"]);

      writeFileSync(profileFile(), good);
      await cliOk(deployment, ["profile", "reload"]);
      expect(await localProfile()).toMatchObject({ status: "OK", errors: [] });
    });
  });

  describe("--config-check", () => {
    const check = () => agentlabdCommand(deployment, ["--config-check"]);

    it("exits 0 for a good config and profile, printing deprecations with file:line", async () => {
      writeConfig(deployment, { ...config, proxmox_host: "pve.example.internal" });
      const result = await check();
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain(`config ${deployment.configPath}: ok`);
      expect(result.stdout).toContain(`profiles in ${deployment.profilesDir}: 1 ok (local-ephemeral), 0 unusable`);
      expect(result.stderr).toMatch(
        new RegExp(`warning: ${deployment.configPath}:\\d+: proxmox_host: .*proxmox_api_url`),
      );
    });

    it("exits 1 for a bad profile, naming its file and line, and still reports the good ones", async () => {
      const profilesDir = join(deployment.dir, "profiles-with-a-bad-one");
      mkdirSync(profilesDir);
      copyFileSync(join(deployment.profilesDir, "local-ephemeral.yaml"), join(profilesDir, "local-ephemeral.yaml"));
      const bad = join(profilesDir, "broken.yaml");
      writeFileSync(bad, "name: broken\nbackend: local\nresources:\n  cores: many\n");
      writeConfig(deployment, { ...config, profiles_dir: profilesDir });
      const result = await check();
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(new RegExp(`^${bad}:4(:\\d+)?: error: resources\\.cores`, "m"));
      expect(result.stdout).toContain("1 ok (local-ephemeral), 1 unusable");
    });

    it("exits 1 for a config error, naming the file, line and key", async () => {
      writeConfig(deployment, { ...config, artifact_max_bytes: "lots" });
      const result = await check();
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(new RegExp(`error: ${deployment.configPath}:\\d+: artifact_max_bytes: `));
      expect(result.stderr).toContain("the configuration is not usable (1 error(s))");
    });
  });
});
