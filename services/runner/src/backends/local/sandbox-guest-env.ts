import { SANDBOX_BOOTSTRAP_PATH, SANDBOX_HOME_DIR } from "./sandbox-paths.js";

/** The guest starts from a clean environment: nothing of the runner's (tokens, paths) leaks in. */
export function sandboxGuestEnv(vmid: number, name: string): Record<string, string> {
  return {
    PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    HOME: SANDBOX_HOME_DIR,
    USER: "agent",
    LOGNAME: "agent",
    TMPDIR: "/tmp",
    LANG: "C.UTF-8",
    AGENTLAB_VMID: String(vmid),
    AGENTLAB_SANDBOX_NAME: name,
    AGENTLAB_BOOTSTRAP_PATH: SANDBOX_BOOTSTRAP_PATH,
  };
}

/** A bare sandbox (no guest command) just stays up until stopped. */
export const DEFAULT_GUEST_COMMAND = ["sleep", "infinity"];
