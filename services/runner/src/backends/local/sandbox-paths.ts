import path from "node:path";

/** Inside the sandbox: where the guest finds its bootstrap document, its workspace and its home. */
export const SANDBOX_BOOTSTRAP_PATH = "/etc/agentlab/bootstrap.json";
export const SANDBOX_WORK_DIR = "/work";
export const SANDBOX_HOME_DIR = "/home/agent";

/** On the host: the layout of one sandbox's own directory, `<sandboxDir>/<vmid>/`. */
export interface SandboxPaths {
  dir: string;
  stateFile: string;
  consoleLog: string;
  bootstrapFile: string;
  workDir: string;
  tmpDir: string;
  homeDir: string;
  /** Empty mount point for the unshare launcher's new root; mounted only inside the sandbox's namespace. */
  rootfsDir: string;
}

export function sandboxPaths(sandboxDir: string, vmid: number): SandboxPaths {
  const dir = path.join(sandboxDir, String(vmid));
  return {
    dir,
    stateFile: path.join(dir, "state.json"),
    consoleLog: path.join(dir, "console.log"),
    bootstrapFile: path.join(dir, "bootstrap.json"),
    workDir: path.join(dir, "work"),
    tmpDir: path.join(dir, "tmp"),
    homeDir: path.join(dir, "home"),
    rootfsDir: path.join(dir, "rootfs"),
  };
}

export function volumesDir(sandboxDir: string): string {
  return path.join(sandboxDir, "volumes");
}

export function volumeDir(sandboxDir: string, name: string): string {
  return path.join(volumesDir(sandboxDir), name);
}
