/**
 * Where one sandbox lifecycle spends its time on a zero-delay Proxmox: the proxmox-api backend
 * in-process against pve-sim (timeScale 0, keepAlive as in the benchmark), one provision → start →
 * guest IP → destroy, then every request the simulator saw with its time since the start and the
 * gap before it. Gaps are the runner sleeping (task polls, lock retries, agent polls), since the
 * simulator itself answers at once.
 *
 *   node --import tsx bench/src/lifecycle-trace.ts
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { createPveSim } from "@agentlab/pve-sim";
import { createProxmoxApiBackend } from "@agentlab/runner/backends/proxmox-api/proxmox-api-backend";

const dir = mkdtempSync(join(tmpdir(), "agentlab-lifecycle-trace-"));
const sim = await createPveSim({ timeScale: 0, keepAlive: true, snippetsDir: dir });
const backend = createProxmoxApiBackend({
  ownerTag: "agentlab-trace",
  apiUrl: sim.baseUrl,
  apiToken: sim.token,
  tls: { fingerprint: sim.fingerprint },
  snippetsDir: dir,
});
try {
  const ctx = (step: string) => ({ requestId: `trace-${step}`, deadline: Date.now() + 60_000 });
  const steps: Array<[string, number]> = [];
  const t0 = performance.now();
  const timed = async (name: string, fn: () => Promise<unknown>) => {
    const started = performance.now();
    await fn();
    steps.push([name, performance.now() - started]);
  };
  await timed("provision", () =>
    backend.provision(ctx("provision"), {
      vmid: 1000,
      name: "trace",
      templateVmid: 9000,
      cores: 1,
      memoryMb: 512,
      network: { bridge: "vmbr1" },
      bootstrapJson: "{}",
      ownerTag: "agentlab-trace",
    }),
  );
  await timed("start", () => backend.start(ctx("start"), 1000));
  await timed("waitGuestIp", () => backend.waitGuestIp(ctx("ip"), 1000));
  await timed("destroy", () => backend.destroy(ctx("destroy"), 1000));
  const total = performance.now() - t0;
  process.stdout.write("\nbackend steps (ms)\n");
  for (const [name, ms] of steps) process.stdout.write(`  ${name.padEnd(12)} ${ms.toFixed(1).padStart(8)}\n`);
  process.stdout.write(`  ${"total".padEnd(12)} ${total.toFixed(1).padStart(8)}\n\nsimulator requests\n`);
  const requests = sim.requests();
  const first = requests[0]?.time ?? 0;
  let previous = first;
  for (const r of requests) {
    const line = `  +${String(r.time - first).padStart(5)} ms  (gap ${String(r.time - previous).padStart(4)})  ${r.status} ${r.method} ${r.path}`;
    process.stdout.write(`${line}${r.status >= 400 ? `  — ${r.reason}` : ""}\n`);
    previous = r.time;
  }
} finally {
  await backend.close();
  await sim.close();
  rmSync(dir, { recursive: true, force: true });
}
