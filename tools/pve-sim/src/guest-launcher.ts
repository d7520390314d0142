import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { extractWriteFile } from "./cloud-init-bootstrap.js";
import type { GuestVmInfo, PveSimOptions } from "./sim-options.js";

/**
 * Runs a real process as the "guest" of a booted VM: when the VM's user snippet writes
 * /etc/agentlab/bootstrap.json, that payload goes to a temp file and the guest command starts with
 * AGENTLAB_BOOTSTRAP_FILE/AGENTLAB_VMID. The process group is killed on stop, destroy and close.
 */
export interface GuestLauncher {
  launch(vmid: number, name: string | undefined, userData: string | undefined): void;
  stop(vmid: number): Promise<void>;
  stopAll(): Promise<void>;
  running(): number[];
}

interface GuestProcess {
  child: ChildProcess;
  dir: string;
  exited: Promise<void>;
}

export function createGuestLauncher(
  command: PveSimOptions["guestCommand"],
  guestEnv: Record<string, string> | undefined,
): GuestLauncher {
  const guests = new Map<number, GuestProcess>();

  const stop = async (vmid: number): Promise<void> => {
    const guest = guests.get(vmid);
    if (!guest) return;
    guests.delete(vmid);
    if (guest.child.exitCode === null && guest.child.signalCode === null && guest.child.pid) {
      try {
        process.kill(-guest.child.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    await guest.exited;
    rmSync(guest.dir, { recursive: true, force: true });
  };

  return {
    launch(vmid, name, userData) {
      if (!command || userData === undefined || guests.has(vmid)) return;
      const bootstrap = extractWriteFile(userData);
      if (bootstrap === undefined) return;
      const dir = mkdtempSync(join(tmpdir(), `pve-sim-guest-${vmid}-`));
      const bootstrapFile = join(dir, "bootstrap.json");
      writeFileSync(bootstrapFile, bootstrap, { mode: 0o600 });
      const info: GuestVmInfo = { vmid, name, bootstrapFile };
      const argv = typeof command === "function" ? command(info) : command;
      if (!argv || argv.length === 0) {
        rmSync(dir, { recursive: true, force: true });
        return;
      }
      const child = spawn(argv[0]!, argv.slice(1), {
        detached: true,
        stdio: "ignore",
        env: { ...process.env, ...guestEnv, AGENTLAB_BOOTSTRAP_FILE: bootstrapFile, AGENTLAB_VMID: String(vmid) },
      });
      const exited = new Promise<void>((resolve) => {
        child.once("exit", () => resolve());
        child.once("error", () => resolve());
      });
      guests.set(vmid, { child, dir, exited });
    },
    stop,
    async stopAll() {
      await Promise.all([...guests.keys()].map(stop));
    },
    running: () => [...guests.keys()],
  };
}
