/**
 * What "the upgrade kept everything" means, checked two ways: row by row through sqlite (before the
 * daemon opened the file, and after it migrated it), and through the API with the CLI, as the
 * guide's test_upgrade.sh does with `sandbox list --output json`.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { normalisedTimestamp, type Row } from "./upgrade-databases.js";
import { cliJson, cliOk, type UpgradeDeployment } from "./upgrade-deployment.js";

/** Primary-key columns per table, to pair a row before with the same row after. */
const KEYS: Record<string, string[]> = {
  sandboxes: ["vmid"],
  jobs: ["id"],
  profiles: ["name"],
  workspaces: ["id"],
  bootstrap_tokens: ["token"],
  events: ["id"],
  artifact_tokens: ["token"],
  artifacts: ["id"],
  schema_migrations: ["version"],
  report_tokens: ["token_hash"],
  job_logs: ["job_id", "seq"],
  idempotency_keys: ["key"],
};

const GROWING_TABLES = new Set(["events", "schema_migrations"]);

const LIVE_JOB = new Set(["QUEUED", "RUNNING"]);

/**
 * Columns the running daemon may legitimately change by the time we look: a live sandbox's state
 * (recovery moves a READY sandbox with a running job to RUNNING) and a live job's outcome (a queued
 * job naming a profile this host lacks fails).
 */
function mayChange(table: string, before: Row): Set<string> {
  if (table === "sandboxes" && before.state !== "DESTROYED") {
    return new Set(["state", "updated_at", "meta_json", "termination_reason"]);
  }
  if (table === "jobs" && LIVE_JOB.has(String(before.status))) {
    return new Set(["status", "updated_at", "result_json", "failure_reason", "started_at", "finished_at"]);
  }
  return new Set();
}

const isTimestampColumn = (column: string) => column === "ts" || column.endsWith("_at");

/** `vmid → new name` for every rename migration 6 recorded. */
export function renamesFrom(after: Record<string, Row[]>): Map<number, string> {
  const renames = new Map<number, string>();
  for (const event of after.events ?? []) {
    if (event.kind !== "sandbox.renamed") continue;
    const { to } = JSON.parse(String(event.json)) as { from: string; to: string };
    renames.set(Number(event.sandbox_vmid), to);
  }
  return renames;
}

/**
 * Every row of every table that existed before is still there with the same values, except
 * timestamps (now fixed-width), names renamed by migration 6, and the columns `mayChange` allows.
 */
export function expectRowsSurvived(before: Record<string, Row[]>, after: Record<string, Row[]>): void {
  const renames = renamesFrom(after);
  for (const [table, rowsBefore] of Object.entries(before)) {
    const keys = KEYS[table];
    if (!keys) throw new Error(`no key columns listed for table ${table}; add it to KEYS`);
    const rowsAfter = after[table];
    expect(rowsAfter, `table ${table} after the upgrade`).toBeDefined();
    const byKey = new Map((rowsAfter ?? []).map((row) => [JSON.stringify(keys.map((k) => row[k])), row]));
    // Events and applied migrations may only grow; every other table keeps its exact row count.
    if (GROWING_TABLES.has(table)) expect(byKey.size, table).toBeGreaterThanOrEqual(rowsBefore.length);
    else expect(rowsAfter?.length, `row count of ${table}`).toBe(rowsBefore.length);
    for (const row of rowsBefore) {
      const key = JSON.stringify(keys.map((k) => row[k]));
      const survivor = byKey.get(key);
      expect(survivor, `${table} row ${key}`).toBeDefined();
      const changeable = mayChange(table, row);
      const expected: Row = {};
      const actual: Row = {};
      for (const [column, value] of Object.entries(row)) {
        if (changeable.has(column)) continue;
        expected[column] =
          table === "sandboxes" && column === "name"
            ? (renames.get(Number(row.vmid)) ?? value)
            : isTimestampColumn(column)
              ? normalisedTimestamp(value)
              : value;
        actual[column] = survivor?.[column];
      }
      expect(actual, `${table} row ${key}`).toEqual(expected);
    }
  }
}

interface SandboxJson {
  vmid: number;
  name: string;
  profile: string;
  state: string;
  owned?: boolean;
  ip?: string;
}

const nameAndProfile = (rows: { name: unknown; profile: unknown }[]) =>
  rows.map((r) => ({ name: String(r.name), profile: String(r.profile) })).sort((a, b) => a.name.localeCompare(b.name));

/**
 * The guide's `diff <(jq '.[] | {name, profile}' before.json) <(… after.json)`: `before` is what
 * the old version would have listed (its rows that are not DESTROYED), under the names migration 6
 * gave duplicates.
 */
export async function expectSandboxListUnchanged(
  deployment: UpgradeDeployment,
  sandboxesBefore: Row[],
  renames: Map<number, string>,
): Promise<SandboxJson[]> {
  const expected = nameAndProfile(
    sandboxesBefore
      .filter((s) => s.state !== "DESTROYED")
      .map((s) => ({ name: renames.get(Number(s.vmid)) ?? s.name, profile: s.profile })),
  );
  const listed = await cliJson<SandboxJson[]>(deployment, ["sandbox", "list"]);
  expect(nameAndProfile(listed)).toEqual(expected);
  return listed;
}

/** A git repository the agent of the smoke job edits (readable by the sandbox's uid 65534). */
export function createSmokeRepository(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const git = (...args: string[]) =>
    execFileSync("git", ["-c", "user.name=Upgrade test", "-c", "user.email=upgrade@agentlab.invalid", ...args], {
      cwd: dir,
      stdio: "ignore",
    });
  git("init", "-q", "-b", "main");
  writeFileSync(join(dir, "greet.sh"), '#!/bin/sh\necho "hello"\n', { mode: 0o755 });
  git("add", ".");
  git("commit", "-q", "-m", "initial commit");
  return dir;
}

interface StatusJson {
  deployment_id: string;
  sandbox_backend: string;
}

/**
 * The guide's smoke test on the local backend (status, sandbox list, profile list, sandbox
 * new/show/destroy of `test-upgrade`), plus what its post-upgrade checklist asks: one job that
 * edits a file, its artifacts listed and its patch downloaded, and one workspace created, listed
 * and deleted.
 */
export async function runSmokeTest(
  deployment: UpgradeDeployment,
  options: { profile: string; repo: string; downloadDir: string },
): Promise<void> {
  const status = await cliJson<StatusJson>(deployment, ["status"]);
  expect(status).toMatchObject({ deployment_id: "upgrade", sandbox_backend: "local" });
  expect(await cliOk(deployment, ["status"])).toContain("upgrade");
  await cliOk(deployment, ["sandbox", "list"]);
  expect(await cliOk(deployment, ["profile", "list"])).toContain(options.profile);

  const created = await cliJson<SandboxJson>(deployment, [
    "sandbox",
    "new",
    "--name",
    "test-upgrade",
    "--profile",
    options.profile,
  ]);
  expect(created).toMatchObject({ name: "test-upgrade", profile: options.profile, state: "READY", owned: true });
  expect(await cliJson<SandboxJson>(deployment, ["sandbox", "show", "test-upgrade"])).toMatchObject({
    name: "test-upgrade",
    state: "READY",
  });
  expect(await cliJson<SandboxJson>(deployment, ["sandbox", "destroy", "test-upgrade"])).toMatchObject({
    name: "test-upgrade",
    state: "DESTROYED",
  });

  const agent = "printf '#!/bin/sh\\necho \"hello, $1\"\\n' > greet.sh && echo edited";
  const queued = await cliJson<{ id: string }>(deployment, [
    "job",
    "run",
    "--repo",
    options.repo,
    "--task",
    "make greet.sh greet by name",
    "--profile",
    options.profile,
    "--agent-command",
    agent,
    "--no-follow",
  ]);
  // `logs --follow` returns when the job has ended.
  await cliOk(deployment, ["job", "logs", queued.id, "--follow"]);
  const shown = await cliJson<{ job: { id: string; status: string; failure_reason?: string } }>(deployment, [
    "job",
    "show",
    queued.id,
  ]);
  expect(shown.job, JSON.stringify(shown.job)).toMatchObject({ id: queued.id, status: "COMPLETED" });
  const artifacts = await cliJson<{ path: string }[]>(deployment, ["job", "artifacts", queued.id]);
  expect(artifacts.map((a) => a.path)).toEqual(expect.arrayContaining(["changes.patch"]));
  const patchFile = join(options.downloadDir, `${queued.id}.patch`);
  await cliOk(deployment, ["job", "artifacts", "download", queued.id, "--path", "changes.patch", "--out", patchFile]);
  expect(readFileSync(patchFile, "utf8")).toContain('+echo "hello, $1"');

  const workspace = await cliJson<{ id: string; name: string }>(deployment, [
    "workspace",
    "create",
    "--name",
    "ws-upgrade",
    "--size",
    "1",
  ]);
  expect(workspace.name).toBe("ws-upgrade");
  const listed = await cliJson<{ name: string }[]>(deployment, ["workspace", "list"]);
  expect(listed.map((w) => w.name)).toContain("ws-upgrade");
  await cliOk(deployment, ["workspace", "delete", "ws-upgrade"]);
  const after = await cliJson<{ name: string }[]>(deployment, ["workspace", "list"]);
  expect(after.map((w) => w.name)).not.toContain("ws-upgrade");
}
