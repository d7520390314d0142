#!/usr/bin/env node
// Builds dist-deb/agentlab_<version>_<arch>.deb: `npm run package`.
//
//   node scripts/package-deb.mjs [--version V] [--out DIR] [--skip-build] [--compression xz|gzip]
//
// The version comes from --version, else AGENTLAB_VERSION, else the root package.json. Unless
// --skip-build, the bundles are rebuilt first with AGENTLAB_VERSION set, so `--version` of the
// installed binaries names the packaged version. Layout and upgrade policy: docs/install.md.
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { writeControlArea } from "./packaging/deb-control.mjs";
import { stagePackageTree } from "./packaging/deb-layout.mjs";
import { debianArchitecture, debianVersion } from "./packaging/deb-version.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

export function packageDeb({ version, outDir = join(root, "dist-deb"), skipBuild = false, compression = "xz" }) {
  const releaseVersion =
    version ?? process.env.AGENTLAB_VERSION ?? JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version;
  const debVersion = debianVersion(releaseVersion);
  const architecture = debianArchitecture();
  if (!skipBuild) {
    execFileSync(process.execPath, [join(root, "scripts/build.mjs")], {
      cwd: root,
      stdio: "inherit",
      env: { ...process.env, AGENTLAB_VERSION: releaseVersion },
    });
  }
  const stage = mkdtempSync(join(tmpdir(), "agentlab-deb-"));
  // mkdtemp makes 0700; the package root becomes "/" in the archive listing.
  chmodSync(stage, 0o755);
  try {
    const { conffiles } = stagePackageTree({ root, stage, version: debVersion });
    writeControlArea({ root, stage, version: debVersion, architecture, conffiles });
    mkdirSync(outDir, { recursive: true });
    const deb = join(resolve(outDir), `agentlab_${debVersion}_${architecture}.deb`);
    // --root-owner-group: every file root:root whoever builds. xz is Debian's default; gzip is for
    // quick local and test builds.
    execFileSync("dpkg-deb", ["--root-owner-group", `-Z${compression}`, "--build", stage, deb], {
      stdio: ["ignore", "ignore", "inherit"],
    });
    return deb;
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const { values } = parseArgs({
    options: {
      version: { type: "string" },
      out: { type: "string" },
      "skip-build": { type: "boolean", default: false },
      compression: { type: "string", default: "xz" },
    },
  });
  const deb = packageDeb({
    ...(values.version !== undefined && { version: values.version }),
    ...(values.out !== undefined && { outDir: values.out }),
    skipBuild: values["skip-build"],
    compression: values.compression === "gzip" ? "gzip" : "xz",
  });
  process.stdout.write(`${deb}\n`);
}
