/**
 * An agentlabd deployment on the Proxmox simulator: the sim in this process (real HTTPS on
 * 127.0.0.1, real fake-qm binaries), agentlabd as a child process configured for the `api` or
 * `shell` backend, and the shipped yolo-ephemeral profile (template 9000, the sim's default).
 */
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createPveSim, type PveSim } from "@agentlab/pve-sim";
import { type AgentlabdProcess, REPO_ROOT, startAgentlabd } from "./agentlabd-process.js";
import {
  createDeploymentDir,
  type DeploymentDir,
  freeLoopbackPort,
  writeDeploymentConfig,
  writeProfile,
} from "./deployment-dir.js";

export interface PveSimDeployment {
  deployment: DeploymentDir;
  sim: PveSim;
  daemon: AgentlabdProcess;
  close(): Promise<number | null>;
}

export async function startPveSimDeployment(proxmoxBackend: "api" | "shell"): Promise<PveSimDeployment> {
  const deployment = createDeploymentDir(`smoke-${proxmoxBackend}`);
  // The runner writes snippets on "the node's" filesystem and the sim reads them at start: one dir.
  const snippetsDir = join(deployment.dir, "snippets");
  mkdirSync(snippetsDir);
  let sim: PveSim | undefined;
  try {
    // Real clock, scaled down: a linked clone takes 20 ms, the guest agent reports an IPv4 after ~250 ms.
    sim = await createPveSim({ timeScale: 0.01, snippetsDir });
    writeProfile(
      deployment,
      "yolo-ephemeral.yaml",
      readFileSync(join(REPO_ROOT, "deploy/profiles/yolo-ephemeral.yaml"), "utf8"),
    );
    const backendKeys =
      proxmoxBackend === "api"
        ? {
            proxmox_backend: "api",
            proxmox_api_url: sim.baseUrl,
            proxmox_api_token: sim.token,
            proxmox_tls_fingerprint: sim.fingerprint,
          }
        : { proxmox_backend: "shell", proxmox_node: sim.node };
    writeDeploymentConfig(deployment, {
      sandbox_backend: "proxmox",
      ...backendKeys,
      snippets_dir: snippetsDir,
      bootstrap_listen: `127.0.0.1:${await freeLoopbackPort()}`,
      artifact_listen: `127.0.0.1:${await freeLoopbackPort()}`,
      agent_subnet: "127.0.0.0/8",
    });
    // For the shell backend, `qm`, `pvesh` and `pvesm` on agentlabd's PATH are the sim's fakes.
    const daemon = await startAgentlabd({
      configPath: deployment.configPath,
      runDir: deployment.runDir,
      ...(proxmoxBackend === "shell" ? { env: sim.cliEnv } : {}),
    });
    const running = sim;
    return {
      deployment,
      sim: running,
      daemon,
      async close() {
        const code = await daemon.stop();
        await running.close();
        deployment.remove();
        return code;
      },
    };
  } catch (err) {
    await sim?.close();
    deployment.remove();
    throw err;
  }
}
