import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { hasTool } from "./has-tool.js";

// `docker-compose config` validates and renders the file without a Docker engine.
const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const composeFile = join(root, "deploy/compose.yaml");
const missing = hasTool("docker-compose")
  ? undefined
  : "docker-compose is not installed (Debian package docker-compose)";

function compose(...args: string[]) {
  return spawnSync("docker-compose", ["-f", composeFile, ...args], { encoding: "utf8", timeout: 60_000, cwd: root });
}

describe(`staging compose file ${missing ? `(skipped: ${missing})` : ""}`, () => {
  it.skipIf(missing !== undefined)("passes docker-compose config -q", () => {
    const result = compose("config", "-q");
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
  });

  it.skipIf(missing !== undefined)(
    "runs control, runner, artifacts and pve-sim from one image, publishing no host port",
    () => {
      const result = compose("config");
      expect(result.status).toBe(0);
      const rendered = parse(result.stdout) as {
        services: Record<
          string,
          { image?: string; ports?: unknown; healthcheck?: { test?: string[] }; volumes?: unknown[] }
        >;
        volumes: Record<string, unknown>;
      };
      expect(Object.keys(rendered.services).sort()).toEqual(["artifacts", "control", "pve-sim", "runner"]);
      const images = new Set(Object.values(rendered.services).map((service) => service.image));
      expect([...images]).toEqual(["agentlab-staging:latest"]);
      for (const [name, service] of Object.entries(rendered.services)) {
        expect(service.ports, name).toBeUndefined();
        // Every service is probed in-image: AgentLab services by the CLI's gRPC health check on their
        // socket, the simulator by a TCP probe.
        expect(service.healthcheck?.test?.join(" "), name).toMatch(
          name === "pve-sim" ? /healthcheck\.mjs --tcp/ : /agentlab\.mjs --socket \S+ health$/,
        );
      }
      expect(Object.keys(rendered.volumes).sort()).toEqual(["artifacts", "data", "sockets"]);
    },
  );

  it("has its own deployment_id, never production's default sockets on the host", () => {
    const config = parse(readFileSync(join(root, "deploy/staging/config.yaml"), "utf8")) as Record<string, unknown>;
    expect(config.deployment_id).toBe("staging");
    expect(config.proxmox_api_url).toBe("https://pve-sim:8006");
    // /run/agentlab inside the containers is the project's `sockets` volume, not the host's.
    const composeText = readFileSync(composeFile, "utf8");
    expect(composeText).not.toMatch(/^\s*- \/run\/agentlab/m);
    expect(composeText).not.toMatch(/^\s*ports:/m);
  });
});
