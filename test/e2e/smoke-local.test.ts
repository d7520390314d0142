/**
 * The upgrade smoke test against a real agentlabd on the local (namespace) backend, over its real
 * Unix sockets, driven by the real CLI binary.
 */
import { existsSync, readdirSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AgentlabdProcess, startAgentlabd } from "./support/agentlabd-process.js";
import {
  createDeploymentDir,
  type DeploymentDir,
  freeLoopbackPort,
  LOCAL_SMOKE_PROFILE,
  writeDeploymentConfig,
  writeProfile,
} from "./support/deployment-dir.js";
import { runUpgradeSmokeTest } from "./support/smoke-steps.js";

describe("upgrade smoke test: agentlabd on the local backend", () => {
  let deployment: DeploymentDir;
  let daemon: AgentlabdProcess | undefined;

  beforeAll(async () => {
    deployment = createDeploymentDir("smoke-local");
    writeProfile(deployment, "local-smoke.yaml", LOCAL_SMOKE_PROFILE);
    writeDeploymentConfig(deployment, {
      sandbox_backend: "local",
      bootstrap_listen: `127.0.0.1:${await freeLoopbackPort()}`,
      artifact_listen: `127.0.0.1:${await freeLoopbackPort()}`,
      agent_subnet: "127.0.0.0/8",
    });
    daemon = await startAgentlabd({ configPath: deployment.configPath, runDir: deployment.runDir });
  });

  afterAll(async () => {
    expect(await daemon?.stop()).toBe(0);
    deployment?.remove();
  });

  it("status, sandbox list, profile list, sandbox new/show/destroy all exit 0 with sane output", async () => {
    await runUpgradeSmokeTest(deployment.socketPath, {
      profile: "local-smoke",
      backend: "local",
      deploymentId: "e2e",
    });
    // The destroyed sandbox left no directory behind.
    const left = existsSync(deployment.sandboxDir)
      ? readdirSync(deployment.sandboxDir).filter((entry) => /^\d+$/.test(entry))
      : [];
    expect(left).toEqual([]);
  });
});
