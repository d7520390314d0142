import { z } from "zod";
import { DURATION_PATTERN } from "./duration.js";

/**
 * The shape of `/etc/agentlab/config.yaml`: flat snake_case keys, each with a description. This one
 * schema validates files, generates docs/config.schema.json (for editors) and docs/configuration.md.
 * Values whose default depends on another key carry `derivedDefault` metadata instead of a zod
 * default; `resolveConfig` fills them in and checks rules that span several keys.
 */

/** Metadata key (emitted into the JSON Schema) naming a default computed from other keys. */
export const DERIVED_DEFAULT_META = "x-derived-default";

const absolutePath = () => z.string().regex(/^\//, "must be an absolute path (starting with /)");
const duration = () =>
  z.union([
    z.number().int().nonnegative(),
    z.string().regex(DURATION_PATTERN, 'must be a duration such as "90s", "10m", "2h" or an integer of seconds'),
  ]);
const hostPort = () => z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[^:[\]]*):\d{1,5}$/, "must be host:port");
const httpUrl = () => z.string().regex(/^https?:\/\/[^/\s]+/, "must be an http:// or https:// URL with a host");
const derived = (description: string, derivedDefault: string) =>
  ({ description, [DERIVED_DEFAULT_META]: derivedDefault }) as const;

export const runnerEntrySchema = z.object({
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "must be lowercase letters, digits and -, at most 63 characters")
    .describe("Runner name, unique; shown in sandbox records"),
  endpoint: z
    .string()
    .regex(/^(unix:\/\/\/.+|https?:\/\/[^/\s]+:\d{1,5}\/?)$/, "must be unix:///path or http(s)://host:port")
    .describe("Where the runner listens: unix:///path/to/runner.sock or http(s)://host:port"),
  vmid_range: z
    .object({
      min: z.number().int().min(100).max(999_999_999).describe("Lowest VMID this runner may be given"),
      max: z.number().int().min(100).max(999_999_999).describe("Highest VMID this runner may be given"),
    })
    .describe("VMIDs control allocates on this runner; ranges of different runners must not overlap"),
});

export const configFileSchema = z.object({
  data_dir: absolutePath()
    .default("/var/lib/agentlab")
    .describe("State directory: database, artifacts, local sandboxes"),
  db_path: absolutePath().optional().meta(derived("SQLite database file, owned by control", "<data_dir>/agentlab.db")),
  artifact_dir: absolutePath()
    .optional()
    .meta(derived("Directory the artifacts service stores uploads in", "<data_dir>/artifacts")),
  local_sandbox_dir: absolutePath()
    .optional()
    .meta(derived("Where the local backend keeps sandbox root directories", "<data_dir>/sandboxes")),
  run_dir: absolutePath().default("/run/agentlab").describe("Runtime directory; the Unix sockets live here"),
  socket_path: absolutePath()
    .optional()
    .meta(derived("Control's Unix socket: the CLI's default target", "<run_dir>/agentlabd.sock")),
  runner_socket: absolutePath().optional().meta(derived("The local runner's Unix socket", "<run_dir>/runner.sock")),
  artifacts_socket: absolutePath()
    .optional()
    .meta(derived("The artifacts service's Unix socket (downloads, internal calls)", "<run_dir>/artifacts.sock")),
  guest_socket: absolutePath()
    .optional()
    .meta(
      derived(
        "Control's guest API as a Unix socket, mounted into local sandboxes at /run/agentlab/control.sock",
        "<run_dir>/guest.sock",
      ),
    ),
  artifacts_guest_socket: absolutePath()
    .optional()
    .meta(
      derived(
        "The artifacts upload API as a Unix socket, mounted into local sandboxes at /run/agentlab/artifacts.sock",
        "<run_dir>/artifacts-guest.sock",
      ),
    ),
  runners: z
    .array(runnerEntrySchema)
    .min(1, "must list at least one runner")
    .optional()
    .meta(
      derived(
        "Runners control places sandboxes on: a list of {name, endpoint, vmid_range}",
        "one entry: {name: local, endpoint: unix://<runner_socket>, vmid_range: {min: 1000, max: 999999}}",
      ),
    ),
  profiles_dir: absolutePath().default("/etc/agentlab/profiles").describe("Directory of profile *.yaml/*.yml files"),
  secrets_dir: absolutePath()
    .default("/etc/agentlab/secrets")
    .describe("Directory of secrets bundles <bundle>.yaml (mode 0600)"),
  bootstrap_listen: hostPort()
    .default("10.77.0.1:8844")
    .describe("Guest-facing listener for bootstrap, status reports and logs (host:port)"),
  artifact_listen: hostPort().default("10.77.0.1:8846").describe("Guest-facing listener for artifact uploads"),
  controller_url: httpUrl()
    .optional()
    .meta(
      derived(
        "URL guests use to reach control; required when bootstrap_listen is a wildcard",
        "http://<bootstrap_listen>",
      ),
    ),
  artifact_upload_url: httpUrl()
    .optional()
    .meta(
      derived(
        "URL guests upload artifacts to; required when artifact_listen is a wildcard",
        "http://<artifact_listen>/upload",
      ),
    ),
  agent_subnet: z
    .string()
    .optional()
    .meta(
      derived(
        "CIDR guests call from; guest listeners refuse other sources. Required with a wildcard guest listener",
        "bootstrap_listen's address as /16 (IPv4) or /64 (IPv6)",
      ),
    ),
  sandbox_backend: z
    .enum(["proxmox", "local"])
    .default("proxmox")
    .describe("proxmox: VMs on Proxmox VE; local: Linux-namespace sandboxes (agentlabd --dev)"),
  proxmox_backend: z
    .enum(["api", "shell"])
    .default("api")
    .describe("api: Proxmox REST API; shell: qm/pvesh on the node"),
  proxmox_api_url: httpUrl()
    .default("https://localhost:8006")
    .describe("Proxmox API base URL; /api2/json is appended when missing"),
  proxmox_api_token: z
    .string()
    .regex(/^[^@\s]+@[^!\s]+![^=\s]+=\S+$/, "must look like USER@REALM!TOKENID=SECRET")
    .optional()
    .describe("Proxmox API token USER@REALM!TOKENID=SECRET; required by the api backend"),
  proxmox_node: z.string().min(1).optional().describe("Proxmox node name; default: the first node the API lists"),
  proxmox_tls_ca_path: absolutePath()
    .optional()
    .describe("CA certificate (PEM) to verify the Proxmox API with; excludes the other proxmox_tls_* keys"),
  proxmox_tls_fingerprint: z
    .string()
    .regex(/^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$/, "must be a SHA-256 fingerprint, 32 hex pairs joined by ':'")
    .optional()
    .describe("Pin the Proxmox API certificate by SHA-256 fingerprint; excludes the other proxmox_tls_* keys"),
  proxmox_tls_insecure: z
    .boolean()
    .default(false)
    .describe("Skip TLS verification of the Proxmox API (testing only); excludes the other proxmox_tls_* keys"),
  proxmox_command_timeout: duration().default("2m").describe("Timeout for one Proxmox API call or qm command"),
  proxmox_clone_mode: z
    .enum(["linked", "full"])
    .default("linked")
    .describe("linked: linked clones of the template (fast); full: full copies"),
  proxmox_clone_concurrency: z
    .number()
    .int()
    .min(1)
    .max(64)
    .default(2)
    .describe("Clones a runner runs at once (Proxmox locks the template during a clone)"),
  snippets_dir: absolutePath()
    .default("/var/lib/vz/snippets")
    .describe("Directory of the snippet storage where cloud-init snippets are written"),
  snippet_storage: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, "must be 1-64 characters of A-Z a-z 0-9 - _ .")
    .default("local")
    .describe("Proxmox storage id holding snippets_dir"),
  ssh_public_key: z
    .string()
    .min(1)
    .optional()
    .describe("SSH public key installed in every sandbox; excludes ssh_public_key_path"),
  ssh_public_key_path: absolutePath().optional().describe("File holding the SSH public key, read at load"),
  provisioning_timeout: duration().default("10m").describe("Deadline for a sandbox to go from REQUESTED to READY"),
  requested_timeout: duration()
    .default("10m")
    .describe("Deadline for a sandbox to leave REQUESTED (reach a runner) before it fails"),
  boot_timeout: duration().default("5m").describe("Deadline for a started VM to report a guest IP (BOOTING to READY)"),
  guest_heartbeat_timeout: duration()
    .default("5m")
    .describe("A running job whose guest sends nothing for this long fails as guest lost"),
  job_cancel_grace: duration()
    .default("2m")
    .describe("After a cancel, how long the guest has to stop before its sandbox is destroyed"),
  job_upload_grace: duration()
    .default("15m")
    .describe("Added to a job's TTL for its sandbox lease and upload tokens: time to collect and upload results"),
  job_log_max_bytes: z
    .number()
    .int()
    .min(0)
    .default(16 * 1024 * 1024)
    .describe("Log bytes kept per job in the database for WatchJob (the full log is always in the artifacts)"),
  orphan_sweep_max_destroys: z
    .number()
    .int()
    .min(0)
    .default(5)
    .describe("At most this many orphan VMs (our tag, no live sandbox) are destroyed per reconciler sweep"),
  adopt_untagged_vms: z
    .boolean()
    .default(true)
    .describe(
      "Let stop/destroy act once on an untagged VM of a sandbox migrated from the original AgentLab (VMID and name must match); set false in staging copies that share a Proxmox with production",
    ),
  reconcile_interval: duration().default("30s").describe("How often the lease, deadline and reconciler loops run"),
  max_active_sandboxes: z
    .number()
    .int()
    .min(1)
    .default(10)
    .describe("Cap on sandboxes not yet terminal (REQUESTED through RUNNING); queued jobs wait"),
  artifact_max_bytes: z
    .number()
    .int()
    .positive()
    .default(268_435_456)
    .describe("Largest artifact upload accepted, in bytes (256 MiB)"),
  artifact_token_ttl_minutes: z
    .number()
    .int()
    .positive()
    .default(1440)
    .describe("Lifetime of a job's upload token, in minutes"),
  deployment_id: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,31}$/, "must be 1-32 lowercase letters, digits and -")
    .optional()
    .describe("Ownership tag written on every VM this deployment creates; generated at install"),
  control_listen: hostPort()
    .optional()
    .describe("TCP listener for remote CLIs (off by default); off loopback it requires control_auth_token"),
  control_auth_token: z
    .string()
    .min(32, "must be at least 32 characters")
    .optional()
    .describe("Bearer token remote CLIs present on control_listen"),
  control_tls_cert_path: absolutePath()
    .optional()
    .describe("PEM certificate (chain) for control_listen; required with control_tls_key_path off loopback"),
  control_tls_key_path: absolutePath()
    .optional()
    .describe("PEM private key for control_listen's certificate (keep it mode 0600)"),
  control_allow_cidrs: z
    .array(z.string())
    .optional()
    .describe("Source CIDRs allowed on control_listen; required when it binds a wildcard"),
  internal_token: z
    .string()
    .min(32, "must be at least 32 characters")
    .optional()
    .describe("Token peer services present to each other over TCP"),
  metrics_listen: hostPort()
    .optional()
    .describe(
      "Prometheus /metrics of control, or of all three services under agentlabd (off by default); loopback only",
    ),
  runner_listen: hostPort()
    .optional()
    .describe(
      "TCP listener of agentlab-runner for a control on another node (off by default); requires internal_token",
    ),
  runner_metrics_listen: hostPort()
    .optional()
    .describe("/metrics of a runner run as its own service (agentlab-runner); loopback only; off by default"),
  artifacts_metrics_listen: hostPort()
    .optional()
    .describe("/metrics of the artifacts service run on its own (agentlab-artifacts); loopback only; off by default"),
  bootstrap_rate_limit_qps: z
    .number()
    .nonnegative()
    .default(1)
    .describe("Bootstrap requests per second per source IP (0 disables the limit)"),
  bootstrap_rate_limit_burst: z.number().int().nonnegative().default(3).describe("Bootstrap burst per source IP"),
  artifact_rate_limit_qps: z
    .number()
    .nonnegative()
    .default(5)
    .describe("Artifact uploads per second per source IP (0 disables the limit)"),
  artifact_rate_limit_burst: z.number().int().nonnegative().default(10).describe("Artifact upload burst per source IP"),
  log_level: z
    .enum(["trace", "debug", "info", "warn", "error", "fatal"])
    .default("info")
    .describe("Least severe log level written"),
});

/** The file as written (every key optional). */
export type ConfigFileInput = z.input<typeof configFileSchema>;
/** The file after validation, static defaults filled in. */
export type ConfigFileValues = z.output<typeof configFileSchema>;
export type ConfigKey = keyof typeof configFileSchema.shape;

export const CONFIG_KEYS = Object.keys(configFileSchema.shape) as ConfigKey[];

/** Keys whose value is a duration (resolved to milliseconds). */
export const DURATION_KEYS = [
  "proxmox_command_timeout",
  "provisioning_timeout",
  "requested_timeout",
  "job_cancel_grace",
  "job_upload_grace",
  "reconcile_interval",
  "boot_timeout",
  "guest_heartbeat_timeout",
] as const satisfies readonly ConfigKey[];
