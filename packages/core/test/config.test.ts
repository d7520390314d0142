import { describe, expect, it } from "vitest";
import {
  type ConfigError,
  type ConfigFileSystem,
  checkConfigFileMode,
  closestKey,
  type LoadConfigOptions,
  loadConfig,
  parseDuration,
} from "../src/index.js";

const CONFIG_PATH = "/etc/agentlab/config.yaml";
const TOKEN = "root@pam!agentlab=00000000-1111-2222-3333-444444444444";

/** An in-memory file system: path → [contents, mode]. */
function fakeFs(files: Record<string, [string, number]>): ConfigFileSystem {
  return {
    readFile(path) {
      const file = files[path];
      if (!file) throw Object.assign(new Error(`ENOENT: no such file, open '${path}'`), { code: "ENOENT" });
      return file[0];
    },
    statMode: (path) => (files[path] ? 0o100000 | (files[path]?.[1] ?? 0) : undefined),
  };
}

function load(yaml: string, options: Partial<LoadConfigOptions> = {}, mode = 0o640) {
  return loadConfig({ path: CONFIG_PATH, env: {}, fs: fakeFs({ [CONFIG_PATH]: [yaml, mode] }), ...options });
}

function loadError(yaml: string, options: Partial<LoadConfigOptions> = {}, mode = 0o640): ConfigError {
  try {
    load(yaml, options, mode);
  } catch (err) {
    return err as ConfigError;
  }
  throw new Error("expected a ConfigError");
}

describe("loadConfig defaults", () => {
  it("without a file uses defaults and derives paths, URLs and the subnet", () => {
    const { config, warnings, sourcePath } = loadConfig({ env: {}, fs: fakeFs({}) });
    expect(sourcePath).toBeUndefined();
    expect(warnings).toEqual([]);
    expect(config.db_path).toBe("/var/lib/agentlab/agentlab.db");
    expect(config.artifact_dir).toBe("/var/lib/agentlab/artifacts");
    expect(config.socket_path).toBe("/run/agentlab/agentlabd.sock");
    expect(config.runner_socket).toBe("/run/agentlab/runner.sock");
    expect(config.artifacts_socket).toBe("/run/agentlab/artifacts.sock");
    expect(config.runners).toEqual([
      { name: "local", endpoint: "unix:///run/agentlab/runner.sock", vmid_range: { min: 1000, max: 999999 } },
    ]);
    expect(config.controller_url).toBe("http://10.77.0.1:8844");
    expect(config.artifact_upload_url).toBe("http://10.77.0.1:8846/upload");
    expect(config.agent_subnet).toBe("10.77.0.0/16");
    expect(config.sandbox_backend).toBe("proxmox");
    expect(config.proxmox_backend).toBe("api");
    expect(config.proxmox_api_url).toBe("https://localhost:8006");
    expect(config.proxmox_command_timeout).toBe(120_000);
    expect(config.provisioning_timeout).toBe(600_000);
    expect(config.artifact_max_bytes).toBe(268435456);
    expect(config.artifact_token_ttl_minutes).toBe(1440);
    expect(config.bootstrap_rate_limit_qps).toBe(1);
    expect(config.bootstrap_rate_limit_burst).toBe(3);
    expect(config.artifact_rate_limit_qps).toBe(5);
    expect(config.artifact_rate_limit_burst).toBe(10);
  });

  it("derives from data_dir and run_dir in the file, and overrides win", () => {
    const { config, sourcePath } = load(
      `data_dir: /srv/al\nrun_dir: /tmp/al-run\nsandbox_backend: local\nbootstrap_listen: "[fd00:77::1]:8844"\n`,
      { overrides: { db: "/tmp/other.db" } },
    );
    expect(sourcePath).toBe(CONFIG_PATH);
    expect(config.db_path).toBe("/tmp/other.db");
    expect(config.artifact_dir).toBe("/srv/al/artifacts");
    expect(config.socket_path).toBe("/tmp/al-run/agentlabd.sock");
    expect(config.agent_subnet).toBe("fd00:77::/64");
    expect(config.controller_url).toBe("http://[fd00:77::1]:8844");
  });

  it("reads AGENTLAB_CONFIG when no path is passed", () => {
    const fs = fakeFs({ "/opt/al.yaml": ["sandbox_backend: local\n", 0o600] });
    expect(loadConfig({ env: { AGENTLAB_CONFIG: "/opt/al.yaml" }, fs }).sourcePath).toBe("/opt/al.yaml");
  });

  it("requires an explicit file to exist", () => {
    expect(() => loadConfig({ path: "/nope.yaml", env: {}, fs: fakeFs({}) })).toThrow(/config file not found/);
  });
});

describe("loadConfig errors", () => {
  it("collects every problem with file, line, key, value and what is allowed", () => {
    const err = loadError(
      [
        "sandbox_backend: docker", // line 1
        "artifact_max_bytes: -5", // line 2
        "proxmox_command_timeout: soon", // line 3
        "runners:", // line 4
        "  - name: pve1",
        "    endpoint: ftp://x", // line 6
        "    vmid_range: {min: 1000, max: 2000}",
      ].join("\n"),
    );
    expect(err.name).toBe("ConfigError");
    const byKey = Object.fromEntries(err.issues.map((i) => [i.key, i]));
    expect(byKey.sandbox_backend).toMatchObject({ path: CONFIG_PATH, line: 1 });
    expect(byKey.sandbox_backend?.message).toContain('"docker"');
    expect(byKey.sandbox_backend?.hint).toContain('"proxmox", "local"');
    expect(byKey.artifact_max_bytes).toMatchObject({ line: 2 });
    expect(byKey.artifact_max_bytes?.message).toContain("-5");
    expect(byKey.proxmox_command_timeout).toMatchObject({ line: 3 });
    expect(byKey["runners.0.endpoint"]).toMatchObject({ line: 6 });
    expect(err.message).toContain(`${CONFIG_PATH}:1: sandbox_backend:`);
  });

  it("refuses wildcard guest binds without agent_subnet and URLs", () => {
    const err = loadError("sandbox_backend: local\nbootstrap_listen: 0.0.0.0:8844\n");
    expect(err.issues.map((i) => i.key).sort()).toEqual(["agent_subnet", "controller_url"]);
    const ok = load(
      "sandbox_backend: local\nbootstrap_listen: 0.0.0.0:8844\nagent_subnet: 10.1.0.0/16\ncontroller_url: http://10.1.0.1:8844\n",
    );
    expect(ok.config.agent_subnet).toBe("10.1.0.0/16");
  });

  it("requires control_auth_token and TLS off loopback, and CIDRs on a wildcard", () => {
    expect(load("sandbox_backend: local\ncontrol_listen: 127.0.0.1:8845\n").config.control_listen).toBe(
      "127.0.0.1:8845",
    );
    const err = loadError("sandbox_backend: local\ncontrol_listen: 0.0.0.0:8845\n");
    expect(err.issues.map((i) => i.key).sort()).toEqual([
      "control_allow_cidrs",
      "control_auth_token",
      "control_tls_cert_path",
    ]);
  });

  it("keeps metrics on loopback and TLS options exclusive", () => {
    const err = loadError(
      "sandbox_backend: local\nmetrics_listen: 10.0.0.1:8847\nproxmox_tls_insecure: true\nproxmox_tls_ca_path: /etc/pve/ca.pem\n",
    );
    expect(err.issues.map((i) => i.key).sort()).toEqual(["metrics_listen", "proxmox_tls_insecure"]);
  });

  it("requires the API token for the proxmox api backend and never prints it", () => {
    expect(loadError("data_dir: /srv\n").issues[0]?.key).toBe("proxmox_api_token");
    const err = loadError("proxmox_api_token: not-a-token-but-secret\n");
    expect(err.message).not.toContain("not-a-token-but-secret");
    expect(load(`proxmox_api_token: ${TOKEN}\n`).config.proxmox_api_token).toBe(TOKEN);
  });

  it("rejects overlapping runner VMID ranges", () => {
    const err = loadError(
      [
        "sandbox_backend: local",
        "runners:",
        "  - {name: a, endpoint: 'unix:///run/a.sock', vmid_range: {min: 1000, max: 2000}}",
        "  - {name: b, endpoint: 'http://10.0.0.2:8850', vmid_range: {min: 1500, max: 3000}}",
      ].join("\n"),
    );
    expect(err.issues[0]).toMatchObject({ key: "runners.1.vmid_range", line: 4 });
  });

  it("reads ssh_public_key_path and reports an unreadable one", () => {
    const files = {
      [CONFIG_PATH]: ["sandbox_backend: local\nssh_public_key_path: /keys/id.pub\n", 0o600] as [string, number],
      "/keys/id.pub": ["ssh-ed25519 AAAA test\n", 0o644] as [string, number],
    };
    expect(loadConfig({ path: CONFIG_PATH, env: {}, fs: fakeFs(files) }).config.ssh_public_key).toBe(
      "ssh-ed25519 AAAA test",
    );
    const err = loadError("sandbox_backend: local\nssh_public_key_path: /keys/missing.pub\n");
    expect(err.issues[0]).toMatchObject({ key: "ssh_public_key_path", line: 2 });
  });

  it("reports YAML syntax errors with their line", () => {
    const err = loadError("sandbox_backend: local\nrun_dir: [unclosed\n");
    expect(err.issues[0]?.line).toBeGreaterThanOrEqual(2);
    expect(err.issues[0]?.message).toMatch(/YAML syntax error/);
  });
});

describe("loadConfig warnings", () => {
  it("warns about unknown keys with the closest known key and line", () => {
    const { warnings } = load("sandbox_backend: local\nsocket_pth: /run/x.sock\n");
    expect(warnings).toEqual([
      expect.objectContaining({ key: "socket_pth", line: 2, hint: "did you mean socket_path?" }),
    ]);
  });

  it("accepts proxmox_host with a warning naming the replacement", () => {
    const { config, warnings } = load(`proxmox_host: pve1.lan\nproxmox_api_token: ${TOKEN}\n`);
    expect(config.proxmox_api_url).toBe("https://pve1.lan:8006");
    expect(warnings[0]).toMatchObject({ key: "proxmox_host", line: 1 });
    expect(warnings[0]?.hint).toContain("proxmox_api_url: https://pve1.lan:8006");
  });

  it("refuses proxmox_host conflicting with proxmox_api_url", () => {
    const err = loadError(
      `proxmox_host: pve1.lan\nproxmox_api_url: https://pve2.lan:8006\nproxmox_api_token: ${TOKEN}\n`,
    );
    expect(err.issues[0]).toMatchObject({ key: "proxmox_host" });
    expect(err.issues[0]?.message).toContain("conflicts with proxmox_api_url");
  });

  it("explains retired keys instead of suggesting a spelling", () => {
    const { warnings } = load("sandbox_backend: local\nlog_dir: /var/log/agentlab\n");
    expect(warnings[0]?.message).toContain("no longer used");
  });
});

describe("config file mode", () => {
  it("accepts 0600 and 0640, refuses group-writable and world-readable with the chmod to run", () => {
    expect(checkConfigFileMode("/c.yaml", 0o600)).toBeUndefined();
    expect(checkConfigFileMode("/c.yaml", 0o640)).toBeUndefined();
    expect(checkConfigFileMode("/c.yaml", 0o660)?.hint).toBe("run: chmod 0640 /c.yaml");
    expect(checkConfigFileMode("/c.yaml", 0o644)?.hint).toBe("run: chmod 0640 /c.yaml");
    expect(checkConfigFileMode("/c.yaml", 0o606)?.hint).toBe("run: chmod 0600 /c.yaml");
  });

  it("is reported by the loader together with other problems", () => {
    const err = loadError("sandbox_backend: nope\n", {}, 0o644);
    expect(err.issues.map((i) => i.hint ?? "")).toContain(`run: chmod 0640 ${CONFIG_PATH}`);
    expect(err.issues.some((i) => i.key === "sandbox_backend")).toBe(true);
  });
});

describe("helpers", () => {
  it("parses durations with units and bare seconds", () => {
    expect(parseDuration("90s")).toBe(90_000);
    expect(parseDuration("10m")).toBe(600_000);
    expect(parseDuration("2h")).toBe(7_200_000);
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration(45)).toBe(45_000);
    expect(parseDuration("45")).toBe(45_000);
    expect(parseDuration("soon")).toBeUndefined();
  });

  it("suggests close keys only", () => {
    expect(closestKey("data_dri", ["data_dir", "run_dir"])).toBe("data_dir");
    expect(closestKey("colour", ["data_dir", "run_dir"])).toBeUndefined();
  });
});
