// What goes where in the .deb. One table, so the package test and the docs agree with the script.
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";

/** The bundles (with their bin launchers) installed, keeping their repository-relative layout. */
export const packagedPrograms = [
  { name: "agentlab", dir: "clients/cli", wrapper: true },
  { name: "agentlabd", dir: "services/agentlabd", wrapper: true },
  { name: "agentlab-control", dir: "services/control", wrapper: true },
  { name: "agentlab-runner", dir: "services/runner", wrapper: true },
  { name: "agentlab-artifacts", dir: "services/artifacts", wrapper: true },
  // Runs inside sandboxes: shipped for template builders, no wrapper on the host.
  { name: "agentlab-guest", dir: "guest/agent-runner", wrapper: false },
];

/**
 * Runtime node_modules: everything else is inside the bundles; better-sqlite3 is a native addon
 * esbuild leaves external. Only what it loads at run time: not its C sources or build objects.
 */
export const runtimeModules = [
  { name: "better-sqlite3", paths: ["package.json", "LICENSE", "lib", "build/Release/better_sqlite3.node"] },
  { name: "bindings", paths: ["package.json", "LICENSE.md", "bindings.js"] },
  { name: "file-uri-to-path", paths: ["package.json", "LICENSE", "index.js"] },
];

export const systemdUnits = [
  "agentlab-control.service",
  "agentlab-runner.service",
  "agentlab-artifacts.service",
  "agentlab.target",
  "agentlabd.service",
];

function copyInto(from, to, mode) {
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(from, to);
  if (mode !== undefined) chmodSync(to, mode);
}

function copyTree(from, to) {
  mkdirSync(dirname(to), { recursive: true });
  cpSync(from, to, { recursive: true, dereference: true });
}

function wrapperScript(program) {
  return [
    "#!/bin/sh",
    "# Installed by the agentlab package: runs the version /opt/agentlab/current points at, so an",
    "# upgrade or rollback (dpkg -i) switches every command at once.",
    `exec node /opt/agentlab/current/${program.dir}/bin/${program.name}.mjs "$@"`,
    "",
  ].join("\n");
}

/**
 * Fills `stage` (the package root) from the repository at `root`. Returns the conffiles (paths
 * under /etc that dpkg must treat as the operator's once installed).
 */
export function stagePackageTree({ root, stage, version }) {
  const prefix = join(stage, "opt/agentlab", version);
  for (const program of packagedPrograms) {
    const bin = join(root, program.dir, "bin", `${program.name}.mjs`);
    const bundle = join(root, program.dir, "dist", `${program.name}.mjs`);
    for (const file of [bin, bundle]) {
      if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\` first`);
    }
    copyInto(bin, join(prefix, program.dir, "bin", `${program.name}.mjs`), 0o755);
    copyInto(bundle, join(prefix, program.dir, "dist", `${program.name}.mjs`), 0o644);
    if (existsSync(`${bundle}.map`))
      copyInto(`${bundle}.map`, join(prefix, program.dir, "dist", `${program.name}.mjs.map`), 0o644);
    if (program.wrapper) {
      const wrapper = join(stage, "usr/bin", program.name);
      mkdirSync(dirname(wrapper), { recursive: true });
      writeFileSync(wrapper, wrapperScript(program), { mode: 0o755 });
    }
  }
  for (const module of runtimeModules) {
    for (const path of module.paths) {
      const from = join(root, "node_modules", module.name, path);
      if (!existsSync(from)) throw new Error(`${from} is missing: the runtime module ${module.name} is incomplete`);
      copyTree(from, join(prefix, "node_modules", module.name, path));
    }
  }
  // The bundles are ESM (.mjs) and need no package.json; this one only names what is installed.
  writeFileSync(
    join(prefix, "package.json"),
    `${JSON.stringify({ name: "agentlab", version, private: true }, null, 2)}\n`,
  );
  copyTree(join(root, "docs"), join(prefix, "docs"));
  copyTree(join(root, "deploy/profiles"), join(prefix, "deploy/profiles"));
  if (existsSync(join(root, "deploy/net"))) copyTree(join(root, "deploy/net"), join(prefix, "deploy/net"));
  // The guest unit belongs in templates (docs/template-build.md), not on the host's systemd.
  if (existsSync(join(root, "deploy/guest"))) copyTree(join(root, "deploy/guest"), join(prefix, "deploy/guest"));
  // A relative link inside the package: dpkg swaps it in one rename on upgrade and rollback.
  symlinkSync(version, join(stage, "opt/agentlab/current"));

  for (const unit of systemdUnits)
    copyInto(join(root, "deploy/systemd", unit), join(stage, "lib/systemd/system", unit), 0o644);

  const conffiles = [];
  const profiles = join(root, "deploy/profiles");
  for (const name of readdirSync(profiles).sort()) {
    if (!/\.ya?ml$/.test(name) || !statSync(join(profiles, name)).isFile()) continue;
    copyInto(join(profiles, name), join(stage, "etc/agentlab/profiles", name), 0o644);
    conffiles.push(`/etc/agentlab/profiles/${name}`);
  }
  return { conffiles };
}
