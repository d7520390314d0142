/**
 * The guide's test_upgrade.sh, made real (reference/upgrade-guide.md "Automated Testing"): for every
 * database an operator can bring — the original Go AgentLab's versions 1-3 and every earlier schema
 * version of ours — start the CURRENT agentlabd on it (local backend) and check that nothing was
 * lost, row by row through sqlite and through the API, that the pre-migration backup was taken,
 * and that the smoke test, a job, its artifacts and a workspace all work afterwards.
 */
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSurvivingVms, type SurvivingVms } from "./support/surviving-vms.js";
import {
  createSmokeRepository,
  expectRowsSurvived,
  expectSandboxListUnchanged,
  renamesFrom,
  runSmokeTest,
} from "./support/upgrade-checks.js";
import {
  buildDatabaseAt,
  type DatabaseLevel,
  LATEST_VERSION,
  levelName,
  MIGRATED_ARTIFACT_PATH,
  MIGRATED_JOB_ID,
  type Row,
  readAllRows,
  schemaVersionOf,
} from "./support/upgrade-databases.js";
import {
  cliJson,
  cliOk,
  createUpgradeDeployment,
  installShippedProfile,
  localBackendConfig,
  startAgentlabd,
  type UpgradeDeployment,
  writeConfig,
} from "./support/upgrade-deployment.js";

const PROFILE = "local-ephemeral";
const OWNER_TAG = "agentlab-upgrade"; // deployment_id "upgrade"

const ORIGINAL_LEVELS: DatabaseLevel[] = [1, 2, 3].map((v) => ({ kind: "original", version: v as 1 | 2 | 3 }));
const OUR_LEVELS: DatabaseLevel[] = Array.from({ length: LATEST_VERSION - 3 }, (_, i) => ({
  kind: "ours",
  version: i + 3,
}));

interface Lineage {
  title: string;
  levels: DatabaseLevel[];
  /**
   * The tag on the VMs that survived the upgrade: the original tagged nothing of ours, so its VMs
   * are foreign until adopted; ours carry our deployment's tag.
   */
  vmTag: string;
}

const LINEAGES: Lineage[] = [
  { title: "databases of the original AgentLab", levels: ORIGINAL_LEVELS, vmTag: "original-agentlab" },
  { title: "databases of earlier versions of ours", levels: OUR_LEVELS, vmTag: OWNER_TAG },
];

describe.each(LINEAGES)("upgrading $title with the current agentlabd", ({ levels, vmTag }) => {
  let deployment: UpgradeDeployment;
  let config: Record<string, unknown>;
  let repoDir: string | undefined;
  let repo: string;
  let vms: SurvivingVms | undefined;

  beforeAll(async () => {
    deployment = createUpgradeDeployment(vmTag);
    installShippedProfile(deployment, PROFILE);
    config = await localBackendConfig();
    // Outside the deployment: sandboxes may not see AgentLab's own directories.
    repoDir = mkdtempSync(join(tmpdir(), "agentlab-upgrade-repo-"));
    chmodSync(repoDir, 0o711);
    repo = createSmokeRepository(join(repoDir, "repo"));
    // Every level holds the same live sandboxes (VMIDs 1000, 1001, 1004, 1005): build the first
    // one to learn them, and give them VMs that survive from level to level.
    const probe = join(deployment.dir, "probe.db");
    await buildDatabaseAt(probe, levels[0]!, { artifactDir: deployment.artifactDir, ownerTag: OWNER_TAG });
    const live = (readAllRows(probe).sandboxes ?? []).filter((s) => s.state !== "DESTROYED");
    rmSync(probe);
    vms = await createSurvivingVms(
      deployment.sandboxDir,
      vmTag,
      live.map((s) => ({
        vmid: Number(s.vmid),
        name: String(s.name),
        running: ["READY", "RUNNING"].includes(String(s.state)),
      })),
    );
  });

  afterAll(async () => {
    await vms?.destroyAll();
    deployment?.remove();
    if (repoDir) rmSync(repoDir, { recursive: true, force: true });
  });

  // The smoke test exercises the current build on an upgraded database; it runs once per lineage,
  // on its newest level, so the whole file stays well under two minutes on a busy CI host.
  const cases = levels.map((level, i) => ({ ...level, smoke: i === levels.length - 1 }));

  it.each(cases)("keeps every row of $kind v$version and takes a backup (smoke test: $smoke)", async (level) => {
    const dbPath = join(deployment.dataDir, `${level.kind}-v${level.version}.db`);
    await buildDatabaseAt(dbPath, level, { artifactDir: deployment.artifactDir, ownerTag: OWNER_TAG });
    expect(schemaVersionOf(dbPath)).toBe(level.version);
    const before = readAllRows(dbPath);

    writeConfig(deployment, { ...config, db_path: dbPath });
    const daemon = await startAgentlabd(deployment);
    try {
      // Through sqlite: every table's rows, and the schema now at the newest version.
      const after = readAllRows(dbPath);
      expect(schemaVersionOf(dbPath), levelName(level)).toBe(LATEST_VERSION);
      expectRowsSurvived(before, after);

      // The pre-migration backup, next to the database, named for the version it was taken at.
      const backups = readdirSync(deployment.dataDir).filter((f) => f.startsWith(`${basename(dbPath)}.backup-`));
      expect(backups).toEqual([expect.stringMatching(new RegExp(`-v${level.version}$`))]);
      expect(schemaVersionOf(join(deployment.dataDir, backups[0]!))).toBe(level.version);

      // Through the API: the guide's sandbox list comparison, a migrated job, its artifacts.
      await expectSandboxListUnchanged(deployment, before.sandboxes ?? [], renamesFrom(after));
      const jobBefore = (before.jobs ?? []).find((j: Row) => j.id === MIGRATED_JOB_ID)!;
      const shown = await cliJson<{ job: Record<string, unknown> }>(deployment, ["job", "show", MIGRATED_JOB_ID]);
      expect(shown.job).toMatchObject({
        id: MIGRATED_JOB_ID,
        status: "COMPLETED",
        repo_url: jobBefore.repo_url,
        ref: "main",
        profile: "default",
        sandbox_vmid: 1000,
        ...(level.version >= 2 ? { task: jobBefore.task } : {}),
      });
      if (before.artifacts) {
        const listed = await cliJson<{ path: string; size_bytes: number; sha256: string }[]>(deployment, [
          "job",
          "artifacts",
          MIGRATED_JOB_ID,
        ]);
        expect(listed.map((a) => a.path).sort()).toEqual(before.artifacts.map((a) => String(a.path)).sort());
        const out = join(deployment.dir, `download-${level.kind}-${level.version}`);
        await cliOk(deployment, [
          "job",
          "artifacts",
          "download",
          MIGRATED_JOB_ID,
          "--path",
          MIGRATED_ARTIFACT_PATH,
          "--out",
          out,
        ]);
        expect(
          readFileSync(out).equals(readFileSync(join(deployment.artifactDir, MIGRATED_JOB_ID, MIGRATED_ARTIFACT_PATH))),
        ).toBe(true);
      }

      if (level.smoke) await runSmokeTest(deployment, { profile: PROFILE, repo, downloadDir: deployment.dir });
    } finally {
      const code = await daemon.stop();
      expect(code, daemon.stderr()).toBe(0);
    }
  });
});
