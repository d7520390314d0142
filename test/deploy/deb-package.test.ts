import { spawnSync } from "node:child_process";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hasTool, isRoot } from "./has-tool.js";

// The package is installed into a scratch root with dpkg itself (`dpkg --root`): the maintainer
// scripts then run outside a chroot with DPKG_ROOT set (--force-script-chrootless), exactly the
// contract the scripts honour, and dpkg really tracks conffiles, upgrades and downgrades.
// --force-not-root only spares dpkg's own root check; the chown of config.yaml still needs root.

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const missing = !hasTool("dpkg-deb")
  ? "dpkg-deb is not installed (Debian package dpkg)"
  : !hasTool("dpkg")
    ? "dpkg is not installed"
    : !hasTool("useradd")
      ? "useradd is not installed (Debian package passwd)"
      : !isRoot()
        ? "needs root to give the scratch config its agentlab group"
        : undefined;

let work = "";
let scratch = "";
const debs: Record<string, string> = {};

function run(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: "utf8", timeout: 120_000 });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(" ")} exited ${result.status}:\n${result.stdout}\n${result.stderr}`);
  }
  return `${result.stdout}${result.stderr}`;
}

function dpkg(...args: string[]): string {
  return run("dpkg", [
    `--root=${scratch}`,
    "--force-not-root",
    "--force-script-chrootless",
    `--log=${join(scratch, "var/log/dpkg.log")}`,
    ...args,
  ]);
}

/** A root dpkg can install into: its database, plus stand-ins for the packages we depend on. */
function makeScratchRoot(dir: string): void {
  for (const sub of ["var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers", "var/log", "etc"]) {
    mkdirSync(join(dir, sub), { recursive: true });
  }
  writeFileSync(join(dir, "var/lib/dpkg/available"), "");
  const standIn = (name: string, version: string) =>
    `Package: ${name}\nStatus: install ok installed\nPriority: optional\nSection: misc\n` +
    `Maintainer: test <test@localhost>\nArchitecture: amd64\nVersion: ${version}\nDescription: stand-in\n\n`;
  // Depends: nodejs (>= 20), passwd — satisfied, so dpkg checks the field instead of being forced.
  writeFileSync(join(dir, "var/lib/dpkg/status"), standIn("nodejs", "20.19.0") + standIn("passwd", "1:4.13+dfsg1-1"));
  for (const name of ["nodejs", "passwd"]) writeFileSync(join(dir, `var/lib/dpkg/info/${name}.list`), "");
  writeFileSync(join(dir, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
  writeFileSync(join(dir, "etc/group"), "root:x:0:\n");
  writeFileSync(join(dir, "etc/shadow"), "", { mode: 0o640 });
  writeFileSync(join(dir, "etc/gshadow"), "", { mode: 0o640 });
}

function buildDeb(version: string): string {
  // --skip-build: vitest's global setup has just built the bundles; rebuilding here would rewrite
  // dist/ under the other test files running in parallel. gzip: xz takes most of a minute here.
  const out = run(process.execPath, [
    join(root, "scripts/package-deb.mjs"),
    "--skip-build",
    "--compression",
    "gzip",
    "--version",
    version,
    "--out",
    work,
  ]);
  return out.trim().split("\n").at(-1) ?? "";
}

function entry(file: string, name: string): string[] | undefined {
  return readFileSync(join(scratch, file), "utf8")
    .split("\n")
    .map((line) => line.split(":"))
    .find((fields) => fields[0] === name);
}

const configPath = () => join(scratch, "etc/agentlab/config.yaml");

describe.skipIf(missing !== undefined)(`the .deb package ${missing ? `(skipped: ${missing})` : ""}`, () => {
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), "agentlab-deb-test-"));
    scratch = join(work, "root");
    makeScratchRoot(scratch);
    for (const version of ["0.1.0", "0.1.1"]) debs[version] = buildDeb(version);
  });
  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("is named agentlab_<version>_<arch>.deb and declares its dependencies and conffiles", () => {
    expect(debs["0.1.0"]).toMatch(/agentlab_0\.1\.0_[a-z0-9]+\.deb$/);
    const fields = run("dpkg-deb", ["-f", debs["0.1.0"] ?? "", "Package", "Version", "Depends"]);
    expect(fields).toContain("Version: 0.1.0");
    expect(fields).toMatch(/Depends: nodejs \(>= 20\)/);
    const conffiles = run("dpkg-deb", ["-I", debs["0.1.0"] ?? "", "conffiles"]);
    expect(conffiles).toMatch(/^\/etc\/agentlab\/profiles\/[\w-]+\.yaml$/m);
    // Everything root-owned whoever built it.
    const listing = run("dpkg-deb", ["-c", debs["0.1.0"] ?? ""]);
    expect(listing).not.toMatch(/^\S+ (?!root\/root)/m);
  });

  it("installs the tree, wrappers, units, profiles, account and a config with a deployment_id", () => {
    dpkg("-i", debs["0.1.0"] ?? "");
    expect(readlinkSync(join(scratch, "opt/agentlab/current"))).toBe("0.1.0");
    for (const path of [
      "opt/agentlab/0.1.0/clients/cli/bin/agentlab.mjs",
      "opt/agentlab/0.1.0/clients/cli/dist/agentlab.mjs",
      "opt/agentlab/0.1.0/services/agentlabd/dist/agentlabd.mjs",
      "opt/agentlab/0.1.0/services/control/dist/agentlab-control.mjs",
      "opt/agentlab/0.1.0/services/runner/dist/agentlab-runner.mjs",
      "opt/agentlab/0.1.0/services/artifacts/dist/agentlab-artifacts.mjs",
      "opt/agentlab/0.1.0/guest/agent-runner/dist/agentlab-guest.mjs",
      "opt/agentlab/0.1.0/node_modules/better-sqlite3/build/Release/better_sqlite3.node",
      "opt/agentlab/0.1.0/node_modules/bindings/bindings.js",
      "opt/agentlab/0.1.0/node_modules/file-uri-to-path/index.js",
      "opt/agentlab/0.1.0/docs/configuration.md",
      "lib/systemd/system/agentlabd.service",
      "lib/systemd/system/agentlab.target",
      "etc/agentlab/profiles/yolo-ephemeral.yaml",
    ]) {
      expect(existsSync(join(scratch, path)), path).toBe(true);
    }
    // The simulator is for tests and staging only.
    expect(existsSync(join(scratch, "opt/agentlab/0.1.0/tools"))).toBe(false);
    for (const name of ["agentlab", "agentlabd", "agentlab-control", "agentlab-runner", "agentlab-artifacts"]) {
      const wrapper = join(scratch, "usr/bin", name);
      expect(statSync(wrapper).mode & 0o111, name).toBe(0o111);
      expect(readFileSync(wrapper, "utf8")).toMatch(
        new RegExp(`exec node /opt/agentlab/current/\\S+/bin/${name}\\.mjs "\\$@"`),
      );
    }

    const group = entry("etc/group", "agentlab");
    const user = entry("etc/passwd", "agentlab");
    expect(group).toBeDefined();
    expect(user?.[3]).toBe(group?.[2]);
    expect(user?.[6]).toBe("/usr/sbin/nologin");

    const config = statSync(configPath());
    expect(config.mode & 0o777).toBe(0o640);
    expect(config.uid).toBe(0);
    expect(String(config.gid)).toBe(group?.[2]);
    expect(readFileSync(configPath(), "utf8")).toMatch(/^deployment_id: "[0-9a-f]{32}"$/m);
    const secrets = statSync(join(scratch, "etc/agentlab/secrets"));
    expect(secrets.isDirectory()).toBe(true);
    expect(secrets.mode & 0o777).toBe(0o750);
  });

  it("runs from the scratch root: --version, the native addon, and the generated config parses", () => {
    const current = join(scratch, "opt/agentlab/current");
    expect(run(process.execPath, [join(current, "clients/cli/bin/agentlab.mjs"), "--version"])).toMatch(
      /^AgentLab version=\S+ commit=\S+ date=\S+/,
    );
    const sqlite = run(process.execPath, [
      "-e",
      `const D = require(${JSON.stringify(join(current, "node_modules/better-sqlite3"))}); process.stdout.write(new D(":memory:").prepare("select 1 + 1 as two").get().two + "")`,
    ]);
    expect(sqlite).toBe("2");
    // The fresh config is valid YAML with an accepted mode and deployment_id; what it still lacks
    // is the operator's Proxmox token, which is exactly what the check should ask for.
    const check = spawnSync(
      process.execPath,
      [join(current, "services/artifacts/bin/agentlab-artifacts.mjs"), "--config", configPath(), "--config-check"],
      { encoding: "utf8", timeout: 60_000 },
    );
    const output = `${check.stdout}${check.stderr}`;
    if (check.status !== 0) {
      expect(output).toMatch(/\(1 problem\)/);
      expect(output).toMatch(/proxmox_api_token: is required/);
    }
    expect(output).not.toMatch(/file mode|deployment_id/);
  });

  it("upgrades without touching the config, then rolls back", () => {
    const before = readFileSync(configPath(), "utf8");
    writeFileSync(join(scratch, "etc/agentlab/secrets/default.yaml"), "env: {}\n", { mode: 0o600 });
    dpkg("-i", debs["0.1.1"] ?? "");
    expect(readlinkSync(join(scratch, "opt/agentlab/current"))).toBe("0.1.1");
    expect(existsSync(join(scratch, "opt/agentlab/0.1.1/clients/cli/dist/agentlab.mjs"))).toBe(true);
    // dpkg removes the files the new version no longer ships: the old tree goes, .debs are the rollback.
    expect(existsSync(join(scratch, "opt/agentlab/0.1.0"))).toBe(false);
    expect(readFileSync(configPath(), "utf8")).toBe(before);
    expect(statSync(configPath()).mode & 0o777).toBe(0o640);

    dpkg("-i", debs["0.1.0"] ?? "");
    expect(readlinkSync(join(scratch, "opt/agentlab/current"))).toBe("0.1.0");
    expect(existsSync(join(scratch, "opt/agentlab/0.1.1"))).toBe(false);
    expect(readFileSync(configPath(), "utf8")).toBe(before);
    expect(
      run("dpkg-query", [
        `--admindir=${join(scratch, "var/lib/dpkg")}`,
        "-W",
        "--showformat=$" + "{Version}",
        "agentlab",
      ]),
    ).toBe("0.1.0");
    expect(
      run(process.execPath, [join(scratch, "opt/agentlab/current/clients/cli/bin/agentlab.mjs"), "--version"]),
    ).toMatch(/^AgentLab /);
  });

  it("keeps config and data on remove; purge deletes config, never data", () => {
    mkdirSync(join(scratch, "var/lib/agentlab"), { recursive: true });
    writeFileSync(join(scratch, "var/lib/agentlab/agentlab.db"), "not really a database");
    dpkg("-r", "agentlab");
    expect(existsSync(join(scratch, "opt/agentlab/current"))).toBe(false);
    expect(lstatSync(configPath()).isFile()).toBe(true);
    expect(existsSync(join(scratch, "etc/agentlab/profiles/yolo-ephemeral.yaml"))).toBe(true);
    dpkg("-P", "agentlab");
    expect(existsSync(configPath())).toBe(false);
    expect(existsSync(join(scratch, "etc/agentlab/profiles/yolo-ephemeral.yaml"))).toBe(false);
    // A non-empty secrets directory is the operator's to delete.
    expect(existsSync(join(scratch, "etc/agentlab/secrets/default.yaml"))).toBe(true);
    expect(readFileSync(join(scratch, "var/lib/agentlab/agentlab.db"), "utf8")).toBe("not really a database");
  });
});
