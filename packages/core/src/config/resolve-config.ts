import { join } from "node:path";
import { type ConfigFileValues, DURATION_KEYS } from "./config-schema.js";
import { parseDuration } from "./duration.js";
import {
  type Cidr,
  deriveSubnet,
  formatCidr,
  formatHostPort,
  isLoopbackHost,
  isWildcardHost,
  parseCidr,
  parseHostPort,
} from "./network-address.js";

type DurationKey = (typeof DURATION_KEYS)[number];
type DerivedKey =
  | "db_path"
  | "artifact_dir"
  | "local_sandbox_dir"
  | "socket_path"
  | "runner_socket"
  | "artifacts_socket"
  | "guest_socket"
  | "artifacts_guest_socket"
  | "runners"
  | "controller_url"
  | "artifact_upload_url"
  | "agent_subnet";

export type RunnerEntry = NonNullable<ConfigFileValues["runners"]>[number];

/** The configuration every service receives: every default filled in, durations in milliseconds. */
export type AgentLabConfig = Omit<ConfigFileValues, DurationKey | DerivedKey> & {
  [K in DerivedKey]-?: NonNullable<ConfigFileValues[K]>;
} & {
  [K in DurationKey]: number;
};

/** Called for every problem found; `key` is the config key or a path into it. */
export type ReportIssue = (key: (string | number)[], message: string, hint?: string) => void;

export interface ResolveDependencies {
  readFile(path: string): string;
  /** Whether the values came from a file (a deployment) rather than bare defaults (a client). */
  fromFile: boolean;
}

/** Default VMID range of the implicit local runner. */
export const DEFAULT_VMID_RANGE = { min: 1000, max: 999_999 } as const;

/**
 * Fills derived defaults and checks the rules that span keys: guest listeners versus agent_subnet
 * and URLs, control_listen versus its token and CIDRs, mutually exclusive TLS options.
 */
export function resolveConfig(
  values: ConfigFileValues,
  report: ReportIssue,
  deps: ResolveDependencies,
): AgentLabConfig {
  const runnerSocket = values.runner_socket ?? join(values.run_dir, "runner.sock");
  const durations = resolveDurations(values, report);
  const guest = resolveGuestEndpoints(values, report);
  checkControlListener(values, report);
  checkRunnerListener(values, report);
  checkMetricsListener(values, report);
  checkProxmoxTls(values, report);
  const runners = values.runners ?? [
    { name: "local", endpoint: `unix://${runnerSocket}`, vmid_range: DEFAULT_VMID_RANGE },
  ];
  checkRunners(runners, report);
  if (deps.fromFile && values.sandbox_backend === "proxmox" && values.proxmox_backend === "api") {
    if (!values.proxmox_api_token) {
      report(
        ["proxmox_api_token"],
        "is required by sandbox_backend proxmox with proxmox_backend api",
        "create one with `pveum user token add` and set proxmox_api_token: USER@REALM!TOKENID=SECRET",
      );
    }
  }
  return {
    ...values,
    ...durations,
    ...guest,
    ssh_public_key: resolveSshPublicKey(values, report, deps),
    db_path: values.db_path ?? join(values.data_dir, "agentlab.db"),
    artifact_dir: values.artifact_dir ?? join(values.data_dir, "artifacts"),
    local_sandbox_dir: values.local_sandbox_dir ?? join(values.data_dir, "sandboxes"),
    socket_path: values.socket_path ?? join(values.run_dir, "agentlabd.sock"),
    runner_socket: runnerSocket,
    artifacts_socket: values.artifacts_socket ?? join(values.run_dir, "artifacts.sock"),
    guest_socket: values.guest_socket ?? join(values.run_dir, "guest.sock"),
    artifacts_guest_socket: values.artifacts_guest_socket ?? join(values.run_dir, "artifacts-guest.sock"),
    runners,
  };
}

function resolveDurations(values: ConfigFileValues, report: ReportIssue): Record<DurationKey, number> {
  const keys: readonly DurationKey[] = DURATION_KEYS;
  const result = {} as Record<DurationKey, number>;
  for (const key of keys) {
    const ms = parseDuration(values[key]);
    if (ms === undefined) report([key], `${JSON.stringify(values[key])} is not a duration`);
    result[key] = ms ?? 0;
  }
  return result;
}

function resolveGuestEndpoints(
  values: ConfigFileValues,
  report: ReportIssue,
): Pick<AgentLabConfig, "controller_url" | "artifact_upload_url" | "agent_subnet"> {
  const bootstrap = parseHostPort(values.bootstrap_listen);
  const artifact = parseHostPort(values.artifact_listen);
  if (!bootstrap) report(["bootstrap_listen"], `${JSON.stringify(values.bootstrap_listen)} is not host:port`);
  if (!artifact) report(["artifact_listen"], `${JSON.stringify(values.artifact_listen)} is not host:port`);
  const bootstrapWildcard = bootstrap !== undefined && isWildcardHost(bootstrap.host);
  const artifactWildcard = artifact !== undefined && isWildcardHost(artifact.host);

  let subnet: Cidr | undefined;
  if (values.agent_subnet !== undefined) {
    subnet = parseCidr(values.agent_subnet);
    if (!subnet) report(["agent_subnet"], `${JSON.stringify(values.agent_subnet)} is not a CIDR`, "e.g. 10.77.0.0/16");
  } else if (bootstrapWildcard || artifactWildcard) {
    report(
      ["agent_subnet"],
      "is required when a guest listener binds every interface (bootstrap_listen or artifact_listen is a wildcard)",
      "set agent_subnet to the guests' network, e.g. 10.77.0.0/16",
    );
  } else if (bootstrap) {
    subnet = deriveSubnet(bootstrap.host);
    if (!subnet) {
      report(
        ["agent_subnet"],
        `cannot be derived from bootstrap_listen host ${JSON.stringify(bootstrap.host)} (not an IP address)`,
        "set agent_subnet explicitly",
      );
    }
  }
  if (bootstrapWildcard && values.controller_url === undefined) {
    report(["controller_url"], "is required when bootstrap_listen binds every interface", "e.g. http://10.77.0.1:8844");
  }
  if (artifactWildcard && values.artifact_upload_url === undefined) {
    report(
      ["artifact_upload_url"],
      "is required when artifact_listen binds every interface",
      "e.g. http://10.77.0.1:8846/upload",
    );
  }
  return {
    controller_url: values.controller_url ?? (bootstrap ? `http://${formatHostPort(bootstrap)}` : ""),
    artifact_upload_url: values.artifact_upload_url ?? (artifact ? `http://${formatHostPort(artifact)}/upload` : ""),
    agent_subnet: subnet ? formatCidr(subnet) : "",
  };
}

function checkRunnerListener(values: ConfigFileValues, report: ReportIssue): void {
  if (values.runner_listen === undefined) return;
  if (!parseHostPort(values.runner_listen))
    report(["runner_listen"], `${JSON.stringify(values.runner_listen)} is not host:port`);
  if (!values.internal_token) {
    report(
      ["internal_token"],
      "is required because runner_listen is set: RunnerService is never reachable without it",
      "generate one with `openssl rand -hex 32` and set the same value on control",
    );
  }
}

function checkControlListener(values: ConfigFileValues, report: ReportIssue): void {
  for (const [index, cidr] of (values.control_allow_cidrs ?? []).entries()) {
    if (!parseCidr(cidr)) report(["control_allow_cidrs", index], `${JSON.stringify(cidr)} is not a CIDR`);
  }
  if (values.control_listen === undefined) return;
  const listen = parseHostPort(values.control_listen);
  if (!listen || isLoopbackHost(listen.host)) return;
  if (!values.control_auth_token) {
    report(
      ["control_auth_token"],
      `is required because control_listen ${JSON.stringify(values.control_listen)} is not a loopback address`,
      "generate one with `openssl rand -hex 32`, or bind control_listen to 127.0.0.1",
    );
  }
  // The bearer token must never cross a network in clear text (DESIGN §2).
  if (!values.control_tls_cert_path || !values.control_tls_key_path) {
    report(
      [values.control_tls_cert_path ? "control_tls_key_path" : "control_tls_cert_path"],
      `is required because control_listen ${JSON.stringify(values.control_listen)} is not a loopback address`,
      "set control_tls_cert_path and control_tls_key_path to a PEM certificate and key, or bind control_listen to 127.0.0.1",
    );
  }
  if (isWildcardHost(listen.host) && !values.control_allow_cidrs?.length) {
    report(
      ["control_allow_cidrs"],
      `is required because control_listen ${JSON.stringify(values.control_listen)} binds every interface`,
      "list the networks remote CLIs connect from, e.g. [192.168.1.0/24]",
    );
  }
}

/** Each service run on its own serves its metrics on its own key, so split units never share a port. */
function checkMetricsListener(values: ConfigFileValues, report: ReportIssue): void {
  const keys = ["metrics_listen", "runner_metrics_listen", "artifacts_metrics_listen"] as const;
  for (const key of keys) {
    const value = values[key];
    if (value === undefined) continue;
    const listen = parseHostPort(value);
    if (!listen || !isLoopbackHost(listen.host)) {
      report(
        [key],
        `${JSON.stringify(value)} is not a loopback address`,
        "metrics are served on loopback only, e.g. 127.0.0.1:8847",
      );
    }
  }
  const used = keys.filter((k) => values[k] !== undefined).map((k) => [k, values[k]] as const);
  for (const [i, [key, value]] of used.entries()) {
    const clash = used.slice(0, i).find(([, other]) => other === value);
    if (clash) report([key], `uses ${value}, which ${clash[0]} already uses`, "give each service its own port");
  }
}

function checkProxmoxTls(values: ConfigFileValues, report: ReportIssue): void {
  const set = [
    values.proxmox_tls_ca_path !== undefined && "proxmox_tls_ca_path",
    values.proxmox_tls_fingerprint !== undefined && "proxmox_tls_fingerprint",
    values.proxmox_tls_insecure && "proxmox_tls_insecure",
  ].filter((key): key is string => Boolean(key));
  if (set.length > 1) {
    report(
      [set[1] as string],
      `conflicts with ${set.filter((k) => k !== set[1]).join(" and ")}: the proxmox_tls_* options are mutually exclusive`,
      "keep exactly one way of trusting the Proxmox API certificate",
    );
  }
}

function checkRunners(runners: RunnerEntry[], report: ReportIssue): void {
  const names = new Set<string>();
  runners.forEach((runner, index) => {
    if (names.has(runner.name))
      report(["runners", index, "name"], `duplicate runner name ${JSON.stringify(runner.name)}`);
    names.add(runner.name);
    const { min, max } = runner.vmid_range;
    if (min > max) report(["runners", index, "vmid_range"], `min ${min} is greater than max ${max}`);
    runners.slice(0, index).forEach((other) => {
      if (min <= other.vmid_range.max && other.vmid_range.min <= max) {
        report(
          ["runners", index, "vmid_range"],
          `${min}-${max} overlaps runner ${JSON.stringify(other.name)} (${other.vmid_range.min}-${other.vmid_range.max})`,
          "give each runner its own VMID range",
        );
      }
    });
  });
}

function resolveSshPublicKey(
  values: ConfigFileValues,
  report: ReportIssue,
  deps: ResolveDependencies,
): string | undefined {
  if (values.ssh_public_key !== undefined && values.ssh_public_key_path !== undefined) {
    report(
      ["ssh_public_key_path"],
      "conflicts with ssh_public_key",
      "set only one of ssh_public_key and ssh_public_key_path",
    );
    return values.ssh_public_key;
  }
  if (values.ssh_public_key_path === undefined) return values.ssh_public_key;
  try {
    const key = deps.readFile(values.ssh_public_key_path).trim();
    if (!key)
      report(["ssh_public_key_path"], `${values.ssh_public_key_path} is empty`, "put an OpenSSH public key in it");
    return key || undefined;
  } catch (err) {
    report(
      ["ssh_public_key_path"],
      `cannot read ${values.ssh_public_key_path}: ${(err as Error).message}`,
      "point it at a readable OpenSSH public key (e.g. ~/.ssh/id_ed25519.pub)",
    );
    return undefined;
  }
}
