/**
 * A throwaway deployment on disk for end-to-end runs: a temp directory holding config.yaml (mode
 * 0600, as every service insists), profiles/, data/ and run/. Everything lives under one mkdtemp so
 * removing it removes the whole deployment.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface DeploymentDir {
  dir: string;
  configPath: string;
  profilesDir: string;
  dataDir: string;
  runDir: string;
  /** Control's Unix socket: what the CLI is pointed at. */
  socketPath: string;
  /** Where the local backend keeps sandbox directories. */
  sandboxDir: string;
  remove(): void;
}

export function createDeploymentDir(prefix: string): DeploymentDir {
  const dir = mkdtempSync(join(tmpdir(), `agentlab-e2e-${prefix}-`));
  // Local sandboxes run as uid 65534, which must be able to pass through to their directories.
  chmodSync(dir, 0o711);
  const profilesDir = join(dir, "profiles");
  const dataDir = join(dir, "data");
  const runDir = join(dir, "run");
  for (const d of [profilesDir, dataDir, runDir]) mkdirSync(d, { recursive: true });
  return {
    dir,
    configPath: join(dir, "config.yaml"),
    profilesDir,
    dataDir,
    runDir,
    socketPath: join(runDir, "agentlabd.sock"),
    sandboxDir: join(dataDir, "sandboxes"),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * Writes config.yaml with the deployment's directories plus `values`. Values are written as JSON,
 * which is valid YAML, so strings with colons (URLs, fingerprints, tokens) need no quoting rules.
 */
export function writeDeploymentConfig(deployment: DeploymentDir, values: Record<string, unknown>): void {
  const all = {
    data_dir: deployment.dataDir,
    run_dir: deployment.runDir,
    profiles_dir: deployment.profilesDir,
    secrets_dir: join(deployment.dir, "secrets"),
    deployment_id: "e2e",
    log_level: "warn",
    ...values,
  };
  const text = Object.entries(all)
    .map(([key, value]) => `${key}: ${JSON.stringify(value)}`)
    .join("\n");
  writeFileSync(deployment.configPath, `${text}\n`, { mode: 0o600 });
}

export function writeProfile(deployment: DeploymentDir, file: string, text: string): void {
  writeFileSync(join(deployment.profilesDir, file), text);
}

/** A port nothing listens on right now, on loopback (the guest listeners bind it). */
export async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === "string") throw new Error("no TCP address for a probe listener");
  return address.port;
}

export const LOCAL_SMOKE_PROFILE = `name: local-smoke
description: namespace sandbox for the smoke test
backend: local
resources:
  cores: 1
  memory_mb: 256
network:
  mode: none
behavior:
  keepalive_default: false
  ttl_minutes_default: 60
`;
