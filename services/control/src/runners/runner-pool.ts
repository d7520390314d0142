/**
 * The runners control drives (config `runners`), each reached through the RunnerService contract,
 * and placement: with several runners, a new sandbox goes to the reachable one with the most free
 * capacity (DESIGN §7). The Proxmox cluster is the distributed engine; this only picks a node.
 */
import { RunnerService } from "@agentlab/api";
import { UnavailableError } from "@agentlab/core";
import { type Client, createClient, type Transport } from "@connectrpc/connect";

export interface RunnerHandle {
  name: string;
  endpoint: string;
  vmidRange: { min: number; max: number };
  client: Client<typeof RunnerService>;
}

export interface RunnerEntryInput {
  name: string;
  endpoint: string;
  vmid_range: { min: number; max: number };
}

export interface RunnerCapacityReport {
  runner: RunnerHandle;
  reachable: boolean;
  freeSlots: number;
  error?: string;
}

/** How long placement waits for one runner's GetInfo before skipping it. */
const INFO_TIMEOUT_MS = 5000;

export class RunnerPool {
  private readonly runners: RunnerHandle[];

  constructor(entries: RunnerEntryInput[], transportFor: (endpoint: string) => Transport) {
    this.runners = entries.map((e) => ({
      name: e.name,
      endpoint: e.endpoint,
      vmidRange: { min: e.vmid_range.min, max: e.vmid_range.max },
      client: createClient(RunnerService, transportFor(e.endpoint)),
    }));
  }

  all(): readonly RunnerHandle[] {
    return this.runners;
  }

  /** The runner of a sandbox row; rows migrated from the original have none, so they use the first. */
  get(name: string | null | undefined): RunnerHandle {
    const found = name ? this.runners.find((r) => r.name === name) : this.runners[0];
    if (!found) {
      throw new UnavailableError({
        message: `runner ${JSON.stringify(name)} is not configured`,
        hint: "add it to `runners` in config.yaml, or destroy the sandbox with --force",
      });
    }
    return found;
  }

  /** Asks every runner for its capacity, in parallel. */
  async capacities(): Promise<RunnerCapacityReport[]> {
    return Promise.all(
      this.runners.map(async (runner) => {
        try {
          const info = await runner.client.getInfo({}, { timeoutMs: INFO_TIMEOUT_MS });
          const cap = info.capacity;
          const freeSlots = cap ? Math.max(0, cap.maxVms - cap.runningVms) : 0;
          return { runner, reachable: true, freeSlots };
        } catch (err) {
          return { runner, reachable: false, freeSlots: 0, error: err instanceof Error ? err.message : String(err) };
        }
      }),
    );
  }

  /** The runner for a new sandbox. With one runner, no question is asked: its errors surface later. */
  async place(): Promise<RunnerHandle> {
    const only = this.runners.length === 1 ? this.runners[0] : undefined;
    if (only) return only;
    const reports = await this.capacities();
    const best = reports.filter((r) => r.reachable && r.freeSlots > 0).sort((a, b) => b.freeSlots - a.freeSlots)[0];
    if (!best) {
      const why = reports
        .map((r) => `${r.runner.name}: ${r.reachable ? "full" : `unreachable (${r.error})`}`)
        .join("; ");
      throw new UnavailableError({
        message: `no runner can take a sandbox now: ${why}`,
        hint: "retry later or add capacity",
      });
    }
    return best.runner;
  }
}
