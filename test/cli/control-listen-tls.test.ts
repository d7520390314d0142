/**
 * control_listen (DESIGN §2): remote CLIs reach control over TLS with the bearer token; without the
 * token, or without trusting the certificate, nothing is answered; peers' internal API is not
 * served there; and a non-loopback control_listen without TLS is refused by config validation.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ArtifactRegistryService } from "@agentlab/api";
import { ConfigError, loadConfig } from "@agentlab/core";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../e2e/support/agentlab-cli.js";
import { type AgentlabdProcess, startAgentlabd } from "../e2e/support/agentlabd-process.js";
import {
  createDeploymentDir,
  type DeploymentDir,
  freeLoopbackPort,
  LOCAL_SMOKE_PROFILE,
  writeDeploymentConfig,
  writeProfile,
} from "../e2e/support/deployment-dir.js";

const TOKEN = "remote-cli-token-0123456789abcdef";

describe("control_listen with TLS and a bearer token", () => {
  let deployment: DeploymentDir;
  let daemon: AgentlabdProcess | undefined;
  let endpoint: string;
  let certFile: string;

  beforeAll(async () => {
    deployment = createDeploymentDir("control-tls");
    writeProfile(deployment, "local-smoke.yaml", LOCAL_SMOKE_PROFILE);
    certFile = join(deployment.dir, "control.pem");
    const keyFile = join(deployment.dir, "control.key");
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        keyFile,
        "-out",
        certFile,
        "-days",
        "1",
        "-subj",
        "/CN=agentlab-test",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
      ],
      { stdio: "ignore" },
    );
    const port = await freeLoopbackPort();
    endpoint = `https://127.0.0.1:${port}`;
    writeDeploymentConfig(deployment, {
      sandbox_backend: "local",
      bootstrap_listen: `127.0.0.1:${await freeLoopbackPort()}`,
      artifact_listen: `127.0.0.1:${await freeLoopbackPort()}`,
      agent_subnet: "127.0.0.0/8",
      control_listen: `127.0.0.1:${port}`,
      control_auth_token: TOKEN,
      control_tls_cert_path: certFile,
      control_tls_key_path: keyFile,
      control_allow_cidrs: ["127.0.0.0/8"],
    });
    daemon = await startAgentlabd({ configPath: deployment.configPath, runDir: deployment.runDir });
  });

  afterAll(async () => {
    expect(await daemon?.stop()).toBe(0);
    deployment?.remove();
  });

  it("answers the CLI over https with the token and the CA", async () => {
    const ok = await runCli(endpoint, ["--token", TOKEN, "--ca-file", certFile, "status"]);
    expect(ok.stderr).toBe("");
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("Schema:");
  });

  it("refuses a missing or wrong token, and an untrusted certificate", async () => {
    const noToken = await runCli(endpoint, ["--ca-file", certFile, "status"]);
    expect(noToken.code).toBe(1);
    expect(noToken.stderr).toContain("bearer token");
    const wrong = await runCli(endpoint, ["--token", "nope", "--ca-file", certFile, "status"]);
    expect(wrong.code).toBe(1);
    const untrusted = await runCli(endpoint, ["--token", TOKEN, "status"]);
    expect(untrusted.code).toBe(1);
  });

  it("does not serve peers' internal API on control_listen", async () => {
    const registry = createClient(
      ArtifactRegistryService,
      createGrpcTransport({
        baseUrl: endpoint,
        nodeOptions: { ca: execFileSync("cat", [certFile]) },
        interceptors: [
          (next) => (req) => {
            req.header.set("authorization", `Bearer ${TOKEN}`);
            return next(req);
          },
        ],
      }),
    );
    const err = await registry.authorizeUpload({ token: "x", path: "a" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.Unimplemented);
  });

  it("refuses a non-loopback control_listen without a token and TLS", () => {
    const path = join(deployment.dir, "bad.yaml");
    writeFileSync(path, "sandbox_backend: local\ndeployment_id: x\ncontrol_listen: 0.0.0.0:8845\n", { mode: 0o600 });
    let error: unknown;
    try {
      loadConfig({ path });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const keys = (error as ConfigError).issues.map((i) => i.key);
    expect(keys).toEqual(
      expect.arrayContaining(["control_auth_token", "control_tls_cert_path", "control_allow_cidrs"]),
    );
  });
});
