/**
 * Sandbox lifecycle throughput on a zero-delay Proxmox: N lifecycles (CreateSandbox waiting for
 * READY, then DestroySandbox) through control's CLI-facing Connect API on its Unix socket, a fixed
 * number at a time, against a real agentlabd on the proxmox-api backend and pve-sim at
 * --time-scale 0 (every simulated duration is 0) with --keep-alive (connections reused, where
 * pveproxy would often close them: this measures AgentLab, not TLS handshakes), each in its own
 * process. Prints lifecycles/s, create→READY p50/p99 and the CPU share of the simulator, of
 * agentlabd and of this client (utime+stime from /proc over the wall time).
 *
 *   npm run bench:lifecycle -w bench -- [lifecycles=1000] [concurrency=4]
 *
 * Throughput and latency trade through the concurrency (Little's law: lifecycles in flight =
 * lifecycles/s × seconds each): more at a time fills the two cores, and each lifecycle then waits
 * for a core at every hop. The default, 4, is where both goals hold at once with room on each
 * side (docs/benchmarks.md has the curve from 1 to 8). A thousand lifecycles after a warm-up of
 * WARMUP measure the steady state: a short run mostly measures V8 still compiling.
 *
 * LIFECYCLE_PHASES=1 (diagnostic) also prints where a lifecycle's wall time goes (lifecycle-phases.ts).
 * LIFECYCLE_POLL_MS=n (diagnostic): control uses a runner in this process whose polls start at n ms
 * (lifecycle-fast-runner.ts) instead of agentlabd's own; agentlabd's CPU share then excludes the runner.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { SandboxService, SandboxState } from "@agentlab/api";
import { connectUnaryClient } from "./connect-unary-client.js";
import { startFastPollRunner } from "./lifecycle-fast-runner.js";
import { type LifecycleTimes, printPhases } from "./lifecycle-phases.js";
import { cpuSeconds, simRequestLog, startAgentlabd, startPveSim, threadCpuSeconds } from "./lifecycle-processes.js";
import { percentile, printTable } from "./lifecycle-stats.js";

const LIFECYCLES = Number(process.argv[2] ?? 1000);
const CONCURRENCY = Number(process.argv[3] ?? 4);
const WARMUP = 100;
for (const [name, value] of [
  ["lifecycles", LIFECYCLES],
  ["concurrency", CONCURRENCY],
] as const) {
  if (!Number.isInteger(value) || value < 1) {
    process.stderr.write(`bench:lifecycle: ${name} must be a whole number ≥ 1, got ${value}\n`);
    process.stderr.write("usage: npm run bench:lifecycle -w @agentlab/bench -- [lifecycles=1000] [concurrency=4]\n");
    process.exit(2);
  }
}
const POLL_MS = process.env.LIFECYCLE_POLL_MS ? Number(process.env.LIFECYCLE_POLL_MS) : undefined;

const PROFILE = `name: bench
backend: proxmox
template_vmid: 9000
resources:
  cores: 1
  memory_mb: 512
behavior:
  ttl_minutes_default: 60
  keepalive_default: false
`;

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "agentlab-bench-lifecycle-"));
  // Stopped in reverse start order: agentlabd, the diagnostic runner if any, then the simulator.
  const stops: Array<() => Promise<void>> = [];
  try {
    const snippetsDir = join(dir, "snippets");
    const profilesDir = join(dir, "profiles");
    const runDir = join(dir, "run");
    for (const d of [snippetsDir, profilesDir, runDir, join(dir, "data")]) mkdirSync(d, { recursive: true });
    writeFileSync(join(profilesDir, "bench.yaml"), PROFILE);

    const sim = await startPveSim(["--time-scale", "0", "--keep-alive", "--snippets-dir", snippetsDir]);
    stops.push(() => sim.child.stop());
    const config = {
      data_dir: join(dir, "data"),
      run_dir: runDir,
      profiles_dir: profilesDir,
      deployment_id: "bench",
      log_level: "error",
      sandbox_backend: "proxmox",
      proxmox_backend: "api",
      proxmox_api_url: new URL(sim.info.url).origin,
      proxmox_api_token: sim.info.token,
      proxmox_tls_fingerprint: sim.info.fingerprint,
      snippets_dir: snippetsDir,
      bootstrap_listen: `127.0.0.1:${await freePort()}`,
      artifact_listen: `127.0.0.1:${await freePort()}`,
      agent_subnet: "127.0.0.0/8",
      max_active_sandboxes: CONCURRENCY * 2,
      ...(POLL_MS !== undefined
        ? {
            runners: [
              {
                name: "bench",
                endpoint: `unix://${join(runDir, "bench-runner.sock")}`,
                vmid_range: { min: 1000, max: 999999 },
              },
            ],
          }
        : {}),
    };
    const configPath = join(dir, "config.yaml");
    writeFileSync(
      configPath,
      Object.entries(config)
        .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
        .join("\n"),
      { mode: 0o600 },
    );
    if (POLL_MS !== undefined) {
      const runner = await startFastPollRunner({
        configPath,
        socketPath: join(runDir, "bench-runner.sock"),
        sim: sim.info,
        snippetsDir,
        pollMs: POLL_MS,
        cloneConcurrency: 2,
      });
      stops.push(() => runner.close());
    }
    const daemon = await startAgentlabd(configPath, join(runDir, "artifacts.sock"));
    stops.push(() => daemon.stop());

    // The Connect protocol, which control serves beside gRPC on the same socket, from a client
    // that costs this machine's two cores as little as possible (connect-unary-client.ts).
    const client = connectUnaryClient(join(runDir, "agentlabd.sock"));
    stops.push(() => client.close());

    const times: LifecycleTimes[] = [];
    const lifecycle = async (): Promise<number> => {
      const created = Date.now();
      const started = performance.now();
      const { sandbox } = await client.call(SandboxService.method.createSandbox, { profile: "bench", wait: true });
      const readyMs = performance.now() - started;
      const ready = Date.now();
      if (sandbox?.state !== SandboxState.READY) throw new Error(`sandbox ${sandbox?.vmid} ended ${sandbox?.state}`);
      await client.call(SandboxService.method.destroySandbox, {
        sandbox: { selector: { case: "vmid", value: sandbox.vmid } },
      });
      times.push({ vmid: sandbox.vmid, created, ready, destroying: ready, destroyed: Date.now() });
      return readyMs;
    };
    const runBatch = async (count: number): Promise<number[]> => {
      const readyMs: number[] = [];
      let next = 0;
      const worker = async () => {
        while (next < count) {
          next++;
          readyMs.push(await lifecycle());
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      return readyMs;
    };

    // Warm up JIT, TLS sessions and the SQLite page cache before measuring.
    await runBatch(WARMUP);
    const requests0 = (await simRequestLog(sim.info)).length;
    times.length = 0;
    const simCpu0 = cpuSeconds(sim.child.pid);
    const daemonCpu0 = cpuSeconds(daemon.pid);
    const threads0 = threadCpuSeconds(daemon.pid);
    const benchCpu0 = process.cpuUsage();
    const t0 = performance.now();
    const readyMs = await runBatch(LIFECYCLES);
    const wallS = (performance.now() - t0) / 1000;
    const simCpu = cpuSeconds(sim.child.pid) - simCpu0;
    const daemonCpu = cpuSeconds(daemon.pid) - daemonCpu0;
    const benchCpu = process.cpuUsage(benchCpu0);
    readyMs.sort((a, b) => a - b);
    const requests = (await simRequestLog(sim.info)).slice(requests0);
    if (process.env.LIFECYCLE_PHASES) printPhases(times, requests);
    const taskPolls = requests.filter((r) => r.method === "GET" && /\/tasks\/[^/]+\/status$/.test(r.path)).length;
    // agentlabd's threads: the main one (control and artifacts), the busiest other (the runner's
    // worker thread; in diagnostic mode the runner is elsewhere), and the rest (V8's GC and
    // compiler helpers, libuv's file-system pool).
    const threadCpu = [...threadCpuSeconds(daemon.pid)].map(([tid, s]) => [tid, s - (threads0.get(tid) ?? 0)] as const);
    const mainCpu = threadCpu.find(([tid]) => tid === daemon.pid)?.[1] ?? 0;
    const others = threadCpu
      .filter(([tid]) => tid !== daemon.pid)
      .map(([, s]) => s)
      .sort((a, b) => b - a);
    const share = (seconds: number) => ((100 * seconds) / wallS).toFixed(1);
    const perLifecycle = (seconds: number) => ((1000 * seconds) / LIFECYCLES).toFixed(2);

    const p50 = percentile(readyMs, 50);
    printTable(
      `sandbox lifecycles: proxmox-api backend, pve-sim --time-scale 0 --keep-alive, ${LIFECYCLES} lifecycles, concurrency ${CONCURRENCY}` +
        (POLL_MS !== undefined ? `, runner polls from ${POLL_MS} ms (diagnostic)` : ""),
      [
        ["lifecycles/s", (LIFECYCLES / wallS).toFixed(1), "≥ 100"],
        ["create→READY p50 (ms)", p50.toFixed(1), "≤ 30"],
        ["create→READY p99 (ms)", percentile(readyMs, 99).toFixed(1)],
        ["create→READY max (ms)", (readyMs.at(-1) ?? 0).toFixed(1)],
        ["wall time (s)", wallS.toFixed(2)],
        ["pve-sim CPU share (% of one core)", share(simCpu)],
        ["agentlabd CPU share (% of one core)", share(daemonCpu)],
        ["  main thread: control, artifacts", share(mainCpu)],
        ["  busiest other thread: the runner", share(others[0] ?? 0)],
        ["  other threads: GC, compiler, fs pool", share(others.slice(1).reduce((a, b) => a + b, 0))],
        ["this benchmark's client (% of one core)", share((benchCpu.user + benchCpu.system) / 1e6)],
        ["CPU per lifecycle: agentlabd / pve-sim (ms)", `${perLifecycle(daemonCpu)} / ${perLifecycle(simCpu)}`],
        [
          "Proxmox requests per lifecycle (task polls)",
          `${(requests.length / LIFECYCLES).toFixed(1)} (${(taskPolls / LIFECYCLES).toFixed(1)})`,
        ],
      ],
    );
  } finally {
    for (const stop of stops.reverse()) await stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
