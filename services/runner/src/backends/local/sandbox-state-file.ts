import { readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { BackendError } from "../../backend-errors.js";
import type { CgroupResult } from "./cgroup-limits.js";
import type { ResolvedIsolation } from "./local-backend-options.js";

/**
 * What the runner knows about one sandbox, kept on disk at `<sandboxDir>/<vmid>/state.json` so a runner
 * started later re-adopts it: the runner itself holds no state.
 */
export interface SandboxState {
  vmid: number;
  name: string;
  ownerTag: string;
  tags: string[];
  description?: string;
  /** Request id of the ProvisionVm that created it: a retry with the same id is answered, not refused. */
  requestId: string;
  createdAt: string;
  startedAt?: string;
  stoppedAt?: string;
  /** What the runner last did; `status()` checks it against /proc. */
  powerState: "running" | "stopped";
  /** The launcher process (leader of the sandbox's session and process group). */
  pid?: number;
  /** Field 22 of /proc/<pid>/stat when launched: a reused pid has another start time. */
  pidStartTime?: string;
  isolation?: ResolvedIsolation;
  network: "none" | "host";
  cores?: number;
  memoryMb?: number;
  guestCommand?: string[];
  mounts: Array<{ hostPath: string; sandboxPath: string; readOnly?: boolean }>;
  /** Attached workspace volume (`local:<name>`), mounted at /work instead of the sandbox's own work dir. */
  workVolume?: string;
  /** The cgroup directories holding the sandbox (v2: one; v1: cpu and memory), or why limits were skipped. */
  cgroup?: CgroupResult;
}

export function readSandboxState(stateFile: string): SandboxState | undefined {
  let text: string;
  try {
    text = readFileSync(stateFile, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new BackendError(
      "internal",
      `cannot read sandbox state ${stateFile}: ${(err as Error).message}`,
      {},
      { cause: err },
    );
  }
  try {
    return JSON.parse(text) as SandboxState;
  } catch (err) {
    throw new BackendError(
      "internal",
      `sandbox state ${stateFile} is not valid JSON: ${(err as Error).message}`,
      { hint: "inspect the file; remove the sandbox directory by hand if it is a leftover" },
      { cause: err },
    );
  }
}

/** Written to a temp file and renamed, so a crash never leaves a half-written state behind. */
export function writeSandboxState(stateFile: string, state: SandboxState): void {
  const temp = `${stateFile}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  renameSync(temp, stateFile);
}

/** Every vmid with a state file under sandboxDir (directories named by a number). */
export function listSandboxVmids(sandboxDir: string): number[] {
  let entries: string[];
  try {
    entries = readdirSync(sandboxDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  return entries
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      try {
        readFileSync(path.join(sandboxDir, entry, "state.json"));
        return true;
      } catch {
        return false;
      }
    })
    .map(Number)
    .sort((a, b) => a - b);
}
