/**
 * Typed backend failures. `kind` is what callers branch on; `message` carries the hypervisor's own
 * text (e.g. Proxmox's reason phrase) so operators see what Proxmox said.
 */
export type BackendErrorKind =
  | "not_found" // the VM / snapshot / volume does not exist (the backend answered)
  | "already_exists" // the VMID (or name) is taken: control retries with another id
  | "locked" // Proxmox `lock:` property set, e.g. `VM is locked (clone)`
  | "lock_timeout" // flock contention: `can't lock file … - got timeout`
  | "not_owned" // the VM lacks our ownership tag and no valid adoption hint was given
  | "invalid_argument" // bad input, refused before reaching the hypervisor
  | "auth" // 401/403 from Proxmox, or the CLI refused us
  | "tls" // certificate verification or fingerprint mismatch
  | "unreachable" // connection refused/reset, 595/596/599, timeouts talking to the hypervisor
  | "task_failed" // an async task ended with an error exitstatus
  | "deadline" // the call's deadline passed
  | "unavailable" // the backend cannot work on this host (e.g. no namespaces)
  | "internal";

export class BackendError extends Error {
  override readonly name = "BackendError";
  constructor(
    readonly kind: BackendErrorKind,
    message: string,
    readonly details: { vmid?: number; upid?: string; status?: number; hint?: string } = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isBackendError(err: unknown, kind?: BackendErrorKind): err is BackendError {
  return err instanceof BackendError && (kind === undefined || err.kind === kind);
}
