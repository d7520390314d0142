// DEBIAN/ control metadata for the agentlab package.
import { chmodSync, copyFileSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Installed-Size in KiB, as dpkg expects (an estimate: the sum of file sizes, rounded up). */
function installedSizeKiB(dir) {
  let bytes = 0;
  const walk = (path) => {
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      const child = join(path, entry.name);
      if (entry.isDirectory()) walk(child);
      else if (entry.isFile()) bytes += statSync(child).size;
    }
  };
  walk(dir);
  return Math.ceil(bytes / 1024);
}

export function controlFile({ version, architecture, installedSize }) {
  return [
    "Package: agentlab",
    `Version: ${version}`,
    `Architecture: ${architecture}`,
    "Maintainer: AgentLab maintainers <agentlab@localhost>",
    // passwd: postinst creates the agentlab system user and group with groupadd/useradd.
    "Depends: nodejs (>= 20), passwd",
    "Section: admin",
    "Priority: optional",
    `Installed-Size: ${installedSize}`,
    "Description: isolated sandboxes for unattended AI coding agents",
    " AgentLab provisions Proxmox VE virtual machines (or local Linux-namespace",
    " sandboxes) for AI coding agents, runs jobs in them and tears them down.",
    " This package installs the agentlab CLI, the agentlabd single-process daemon and",
    " the split control, runner and artifacts services with their systemd units.",
    "",
  ].join("\n");
}

/** Writes DEBIAN/{control,conffiles,postinst,prerm,postrm} into `stage`. */
export function writeControlArea({ root, stage, version, architecture, conffiles }) {
  const debian = join(stage, "DEBIAN");
  mkdirSync(debian, { recursive: true });
  writeFileSync(
    join(debian, "control"),
    controlFile({ version, architecture, installedSize: installedSizeKiB(stage) }),
  );
  writeFileSync(join(debian, "conffiles"), conffiles.map((path) => `${path}\n`).join(""));
  for (const script of ["postinst", "prerm", "postrm"]) {
    copyFileSync(join(root, "deploy/debian", script), join(debian, script));
    chmodSync(join(debian, script), 0o755);
  }
}
