import { randomBytes } from "node:crypto";
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { CliResult } from "./cli-common.js";
import { runCli } from "./cli-runner.js";
import { createControlHandler } from "./control-api.js";
import { snapshotFakeCli } from "./fake-cli-snapshot.js";
import { createFaultInjector, type FaultInjector } from "./fault-injector.js";
import { createGuestLauncher } from "./guest-launcher.js";
import { createRequestListener } from "./http-front.js";
import { createSeededRandom } from "./seeded-random.js";
import { createManualClock, createRealClock, type ManualClock, type SimClock, trackTimers } from "./sim-clock.js";
import type { SimContext } from "./sim-context.js";
import {
  DEFAULT_DURATIONS,
  DEFAULT_FIREWALL_GROUPS,
  DEFAULT_TEMPLATE,
  DEFAULT_TOKEN_ID,
  DEFAULT_TOKEN_SECRET,
  defaultStorages,
  type PveSimOptions,
  type ResolvedOptions,
  versionHasBodyMessage,
} from "./sim-options.js";
import {
  createSimState,
  createStorage,
  type RequestLogEntry,
  type SimState,
  type SimVm,
  stateSnapshot,
} from "./sim-state.js";
import { createSnippetStore } from "./snippet-store.js";
import { TaskRunner } from "./task-runner.js";
import { createSimCertificate } from "./tls-cert.js";
import { seedTemplate, seedVm, type VmSeed } from "./vm-seeding.js";

/** A running simulator (reference/proxmox.md §5.1). */
export interface PveSim {
  /** `https://127.0.0.1:<port>/api2/json` */
  url: string;
  /** `https://127.0.0.1:<port>` */
  baseUrl: string;
  /** `http://127.0.0.1:<port>/api2/json` when `http: true`. */
  httpUrl: string | undefined;
  caPem: string;
  /** Path of the certificate PEM (a CA file for clients). */
  caFile: string;
  /** SHA-256 colon hex, as GET /nodes `ssl_fingerprint`. */
  fingerprint: string;
  /** Full `user@realm!tokenid=uuid` of the first configured token. */
  token: string;
  node: string;
  /** The `x-pvesim-secret` value for `/__sim/*`. */
  controlSecret: string;
  /** Env (PATH prefix with fake qm/pvesh/pvesm, PVESIM_URL, PVESIM_SECRET, PVESIM_CA_FILE). */
  cliEnv: Record<string, string>;
  state: SimState;
  faults: FaultInjector;
  clock: SimClock;
  context: SimContext;
  /** Moves a manual clock forward (throws for a real clock). */
  advance(ms: number): Promise<void>;
  requests(): RequestLogEntry[];
  /** Connections accepted so far (HTTPS and plain HTTP): shows whether clients reuse them. */
  connections(): number;
  seedVm(seed: VmSeed): SimVm;
  writeSnippet(volid: string, content: string): void;
  runCli(argv: string[], uid?: number): Promise<CliResult>;
  /** Back to the seeded state: running tasks aborted, guests killed, faults and logs cleared. */
  reset(): Promise<void>;
  close(): Promise<void>;
}

/** The committed wrappers: tools/pve-sim/fake-bin (next to src/ and dist/). */
export const FAKE_BIN_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "fake-bin");

/** The bundled fake CLI the wrappers run (built by scripts/build.mjs). */
export const FAKE_CLI_BUNDLE = join(FAKE_BIN_DIR, "..", "dist", "fake-cli.mjs");

function resolveClock(option: PveSimOptions["clock"]): SimClock {
  if (option === "manual") return createManualClock();
  if (option === undefined || option === "real") return createRealClock();
  return option;
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    // Loopback unless the binary's operator asked otherwise: the simulator is a test fixture.
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

export async function createPveSim(options: PveSimOptions = {}): Promise<PveSim> {
  const node = options.node ?? "pve";
  const pveVersion = options.pveVersion ?? "8.2";
  const timeScale = options.timeScale ?? 1;
  const tokens = options.tokens ?? { [DEFAULT_TOKEN_ID]: DEFAULT_TOKEN_SECRET };
  const resolved: ResolvedOptions = {
    node,
    pveVersion,
    withBodyMessage: versionHasBodyMessage(pveVersion),
    tokens,
    timeScale,
    seed: options.seed ?? 1,
    durations: { ...DEFAULT_DURATIONS, ...options.durations },
    nextIdRange: options.nextIdRange ?? { lower: 100, upper: 1_000_000 },
    controlSecret: options.controlSecret ?? randomBytes(16).toString("hex"),
    cliRequireRoot: options.cliRequireRoot ?? true,
    keepAlive: options.keepAlive ?? false,
  };
  const timers = trackTimers(resolveClock(options.clock));
  const clock = timers.clock;
  const random = createSeededRandom(resolved.seed);
  const storageOptions = options.storages ?? defaultStorages(options.localSnippets ?? true);
  const firewallGroups = options.firewallGroups ?? DEFAULT_FIREWALL_GROUPS;
  const state = createSimState(node, storageOptions, firewallGroups);
  const host = options.host ?? "127.0.0.1";
  const fakeCli = await snapshotFakeCli(FAKE_CLI_BUNDLE);
  let cert: ReturnType<typeof createSimCertificate>;
  try {
    cert = createSimCertificate(node, host);
  } catch (err) {
    fakeCli.dispose();
    throw err;
  }
  const faults = createFaultInjector(random);
  const guests = createGuestLauncher(options.guestCommand, options.guestEnv);
  const tasks = new TaskRunner({
    node,
    clock,
    random,
    tasks: state.tasks,
    leakLock: (vmid, reason) => state.vms.get(vmid)?.config.set("lock", reason),
  });
  const sim: SimContext = {
    options: resolved,
    state,
    clock,
    random,
    tasks,
    faults,
    snippets: createSnippetStore(state, options.snippetsDir),
    guests,
    fingerprint: cert.fingerprint,
    ms: (name) => resolved.durations[name] * timeScale,
    scaled: (ms) => ms * timeScale,
  };
  const templates = options.templates ?? [DEFAULT_TEMPLATE];
  const seedAll = (): void => {
    for (const template of templates) seedTemplate(sim, template, options.agent ?? {});
  };
  seedAll();

  const advance = async (ms: number): Promise<void> => {
    const manual = clock as Partial<ManualClock>;
    if (typeof manual.advance !== "function") {
      throw new Error(`pve-sim: advance(${ms}) needs a manual clock; create the simulator with clock: "manual"`);
    }
    await manual.advance(ms);
  };
  const reset = async (): Promise<void> => {
    await tasks.abortAll();
    await guests.stopAll();
    faults.clear();
    state.vms.clear();
    state.tasks.clear();
    state.snippets.clear();
    state.requests.length = 0;
    state.lastNextId = undefined;
    state.rrd.refreshedAt = Number.NEGATIVE_INFINITY;
    state.vmLocks.clear();
    state.vmFirewallRules.clear();
    state.vmFirewallOptions.clear();
    state.firewallGroups = new Map(firewallGroups.map((name) => [name, { comment: undefined }]));
    state.storages = new Map(storageOptions.map((s) => [s.id, createStorage(s)]));
    seedAll();
  };
  const runCliCall = (argv: string[], uid = 0): Promise<CliResult> => runCli(sim, argv, uid);
  const writeSnippet = (volid: string, content: string): void => sim.snippets.write(volid, content);

  const listener = createRequestListener(
    sim,
    createControlHandler(
      {
        reset,
        state: () => stateSnapshot(state),
        faults,
        advance,
        requests: () => state.requests,
        seedVm: (seed) => stateSnapshotOfVm(seedVm(sim, seed, options.agent ?? {})),
        writeSnippet,
        runCli: runCliCall,
      },
      resolved.controlSecret,
    ),
  );
  const https = createHttpsServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => void listener(req, res));
  let connections = 0;
  https.on("secureConnection", () => connections++);
  const servers: Server[] = [https];
  const wildcard = host === "0.0.0.0" || host === "::";
  const urlHost = wildcard ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host;
  let port: number;
  let httpUrl: string | undefined;
  try {
    port = await listen(https, options.port ?? 0, host);
    if (options.http) {
      const plain = createHttpServer((req, res) => void listener(req, res));
      plain.on("connection", () => connections++);
      servers.push(plain);
      httpUrl = `http://${urlHost}:${await listen(plain, 0, host)}/api2/json`;
    }
  } catch (err) {
    await Promise.all(servers.map(closeServer));
    cert.dispose();
    fakeCli.dispose();
    throw err;
  }
  const baseUrl = `https://${urlHost}:${port}`;
  const [tokenId, tokenSecret] = Object.entries(tokens)[0] ?? [DEFAULT_TOKEN_ID, DEFAULT_TOKEN_SECRET];
  let closed = false;
  return {
    url: `${baseUrl}/api2/json`,
    baseUrl,
    httpUrl,
    caPem: cert.certPem,
    caFile: cert.caFile,
    fingerprint: cert.fingerprint,
    token: `${tokenId}=${tokenSecret}`,
    node,
    controlSecret: resolved.controlSecret,
    cliEnv: {
      PATH: `${FAKE_BIN_DIR}:${process.env.PATH ?? "/usr/bin:/bin"}`,
      PVESIM_URL: baseUrl,
      PVESIM_SECRET: resolved.controlSecret,
      PVESIM_CA_FILE: cert.caFile,
      PVESIM_NODE: node,
      ...(fakeCli.path ? { PVESIM_FAKE_CLI: fakeCli.path } : {}),
    },
    state,
    faults,
    clock,
    context: sim,
    advance,
    requests: () => state.requests,
    connections: () => connections,
    seedVm: (seed) => seedVm(sim, seed, options.agent ?? {}),
    writeSnippet,
    runCli: runCliCall,
    reset,
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all(servers.map(closeServer));
      await tasks.abortAll();
      await guests.stopAll();
      timers.cancelAll();
      cert.dispose();
      fakeCli.dispose();
    },
  };
}

function stateSnapshotOfVm(vm: SimVm): Record<string, unknown> {
  return { vmid: vm.vmid, config: Object.fromEntries(vm.config), runState: vm.runState };
}
