/**
 * `agentlabd --dev`: a complete single-host deployment in a folder under the current directory
 * (`.agentlab-dev/`), on the local backend with the shipped `local-ephemeral` profile, Unix sockets
 * only (nothing listens on the network). The config is written once and kept, so a second start
 * finds the same database, deployment id and sandboxes.
 */
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { MAX_UNIX_SOCKET_PATH_BYTES } from "@agentlab/core";

export interface DevEnvironment {
  root: string;
  configPath: string;
  runDir: string;
}

/** Shipped profiles: deploy/profiles beside the bundle (repository checkout or /opt/agentlab/<version>). */
export function shippedProfilesDir(): string {
  return resolve(new URL("../../../deploy/profiles/", import.meta.url).pathname);
}

export function prepareDevEnvironment(cwd: string = process.cwd()): DevEnvironment {
  const root = join(cwd, ".agentlab-dev");
  const dataDir = join(root, "data");
  const profilesDir = join(root, "profiles");
  // Socket paths are limited to 107 bytes: a deep working directory gets a short run dir in /tmp.
  let runDir = join(root, "run");
  if (Buffer.byteLength(join(runDir, "artifacts-guest.sock")) > MAX_UNIX_SOCKET_PATH_BYTES) {
    const tag = createHash("sha256").update(root).digest("hex").slice(0, 12);
    runDir = join(tmpdir(), `agentlab-dev-${tag}`);
  }
  for (const dir of [root, dataDir, runDir, profilesDir]) mkdirSync(dir, { recursive: true });
  // Sandboxes start as an unprivileged uid that must pass through these folders to reach their own.
  for (const dir of [root, dataDir]) chmodSync(dir, 0o711);
  if (readdirSync(profilesDir).length === 0) {
    copyFileSync(join(shippedProfilesDir(), "local-ephemeral.yaml"), join(profilesDir, "local-ephemeral.yaml"));
  }
  const configPath = join(root, "config.yaml");
  if (!existsSync(configPath)) {
    const config = [
      "# Written by `agentlabd --dev`: a local, single-user deployment. Delete .agentlab-dev/ to start over.",
      `deployment_id: dev-${randomBytes(4).toString("hex")}`,
      "sandbox_backend: local",
      `data_dir: ${JSON.stringify(dataDir)}`,
      `run_dir: ${JSON.stringify(runDir)}`,
      `profiles_dir: ${JSON.stringify(profilesDir)}`,
      `secrets_dir: ${JSON.stringify(join(root, "secrets"))}`,
      "# Guests reach control and artifacts through Unix sockets mounted into each sandbox;",
      "# these loopback addresses are never bound in dev mode.",
      "bootstrap_listen: 127.0.0.1:8844",
      "artifact_listen: 127.0.0.1:8846",
      "max_active_sandboxes: 4",
      "",
    ].join("\n");
    writeFileSync(configPath, config, { mode: 0o600 });
  }
  mkdirSync(join(root, "secrets"), { recursive: true, mode: 0o700 });
  return { root, configPath, runDir };
}
