#!/usr/bin/env node
// Bundles every binary into one ESM file with esbuild. This is the root `prepare` step, so a fresh
// `npm ci` leaves runnable binaries behind. Build facts (version, commit, date) come from git here
// and are compiled in; `AGENTLAB_VERSION` overrides the version for release packaging.
import { execFileSync } from "node:child_process";
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

function git(...args) {
  try {
    return execFileSync("git", args, { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "";
  }
}

function buildInfo() {
  const commit = git("rev-parse", "--short=7", "HEAD") || "0000000";
  // The commit date, so that two builds of one commit are identical; now when there is no commit.
  const committed = git("show", "-s", "--format=%cI", "HEAD");
  const date = (committed ? new Date(committed) : new Date()).toISOString().replace(/\.\d{3}Z$/, "Z");
  const tag = git("describe", "--tags", "--exact-match", "--match", "v[0-9]*");
  const version = process.env.AGENTLAB_VERSION || (/^v\d+\.\d+\.\d+/.test(tag) ? tag : "dev");
  return { version, commit, date };
}

/** Each binary: its entry point, its bundle, and what it may not bundle. */
export const binaries = [
  { entry: "clients/cli/src/main.ts", out: "clients/cli/dist/agentlab.mjs" },
  { entry: "services/agentlabd/src/main.ts", out: "services/agentlabd/dist/agentlabd.mjs" },
  { entry: "services/control/src/main.ts", out: "services/control/dist/agentlab-control.mjs" },
  { entry: "services/runner/src/main.ts", out: "services/runner/dist/agentlab-runner.mjs" },
  { entry: "services/artifacts/src/main.ts", out: "services/artifacts/dist/agentlab-artifacts.mjs" },
  // The guest runner runs inside sandboxes with nothing but Node: it must bundle everything.
  { entry: "guest/agent-runner/src/main.ts", out: "guest/agent-runner/dist/agentlab-guest.mjs", standalone: true },
  { entry: "tools/pve-sim/src/main.ts", out: "tools/pve-sim/dist/pve-sim.mjs" },
  { entry: "tools/pve-sim/src/fake-cli.ts", out: "tools/pve-sim/dist/fake-cli.mjs", standalone: true },
];

// CommonJS dependencies inside an ESM bundle still call require() and read __dirname.
const cjsShim = [
  'import { createRequire as __agentlabCreateRequire } from "node:module";',
  'import { fileURLToPath as __agentlabFileURLToPath } from "node:url";',
  'import { dirname as __agentlabDirname } from "node:path";',
  "const require = __agentlabCreateRequire(import.meta.url);",
  "const __filename = __agentlabFileURLToPath(import.meta.url);",
  "const __dirname = __agentlabDirname(__filename);",
].join("\n");

export async function build({ only } = {}) {
  const info = buildInfo();
  const selected = binaries.filter((b) => !only || only.includes(b.out));
  await Promise.all(
    selected.map(async (b) => {
      mkdirSync(dirname(join(root, b.out)), { recursive: true });
      const result = await esbuild.build({
        write: false,
        absWorkingDir: root,
        entryPoints: [b.entry],
        outfile: b.out,
        bundle: true,
        platform: "node",
        format: "esm",
        target: "node20",
        sourcemap: "linked",
        logLevel: "warning",
        // Native addons and optional pretty-printers stay outside the bundle.
        external: b.standalone ? [] : ["better-sqlite3", "pino-pretty"],
        banner: { js: `#!/usr/bin/env node\n${cjsShim}` },
        define: { __AGENTLAB_BUILD_INFO__: JSON.stringify(info) },
      });
      // Write then rename: a test running the old bundle while another process rebuilds never sees
      // a half-written file.
      for (const file of result.outputFiles) {
        const temp = `${file.path}.${process.pid}.tmp`;
        writeFileSync(temp, file.contents, { mode: 0o755 });
        renameSync(temp, file.path);
      }
    }),
  );
  return info;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const info = await build();
  process.stdout.write(`built ${binaries.length} binaries: version=${info.version} commit=${info.commit}\n`);
}
