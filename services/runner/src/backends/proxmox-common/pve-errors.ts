import { BackendError, type BackendErrorKind } from "../../backend-errors.js";

/**
 * What Proxmox's own error texts mean. The REST client and the CLI runner both end up with a text
 * (reason phrase / body `message` / `errors` map, or stderr) and, for HTTP, a status; this module
 * turns that into a BackendErrorKind. The patterns follow reference/proxmox.md §1.3, §1.5, §1.6, §2.
 */

const NOT_FOUND_PATTERNS: RegExp[] = [
  // §1.3/§1.5: the API's text for a missing VM (HTTP 500, not 404).
  /Configuration file '[^']*' does not exist/i,
  // §1.5 stop / §2 qm stop: the worker's text for a missing VM — the original missed this one (§2).
  /unable to find configuration file for VM \d+/i,
  /snapshot '[^']*' does not exist/i,
  /no such volume/i,
  /volume '[^']*' does not exist/i,
];

/** §1.6: a persistent `lock:` property. */
const LOCKED_PATTERN = /VM is locked \(([^)]*)\)/i;
/** §1.6 and §3: flock or cluster-lock contention. */
const LOCK_TIMEOUT_PATTERNS: RegExp[] = [
  /can't lock file '[^']*' - got timeout/i,
  /cfs-lock '[^']*' error: got lock request timeout/i,
];
/** §1.5 clone, §3 VMID races, nextid `errors.vmid`. */
const ALREADY_EXISTS_PATTERNS: RegExp[] = [
  /config file already exists/i,
  /VM \d+ already exists/i,
  /volume '[^']*' already exists/i,
];
/** §2: the CLI cannot reach pmxcfs; retrying is pointless. */
const IPCC_PATTERN = /ipcc_send_rec|Unable to load access control list/i;
/** §1.5, §3: storage or source cannot make a linked clone. */
const LINKED_UNSUPPORTED_PATTERNS: RegExp[] = [
  /Linked clone feature is not supported/i,
  /not allowed for linked clones/i,
];

export function isLinkedCloneRefusal(text: string): boolean {
  return LINKED_UNSUPPORTED_PATTERNS.some((p) => p.test(text));
}

export function isIpccFailure(text: string): boolean {
  return IPCC_PATTERN.test(text);
}

/** The `lock:` reason in a `VM is locked (x)` text, if any. */
export function lockedReason(text: string): string | undefined {
  return LOCKED_PATTERN.exec(text)?.[1];
}

/** Kind of a Proxmox error text, independent of transport. `undefined` = no specific meaning. */
export function kindOfPveText(text: string): BackendErrorKind | undefined {
  if (LOCK_TIMEOUT_PATTERNS.some((p) => p.test(text))) return "lock_timeout";
  if (LOCKED_PATTERN.test(text)) return "locked";
  if (NOT_FOUND_PATTERNS.some((p) => p.test(text))) return "not_found";
  if (ALREADY_EXISTS_PATTERNS.some((p) => p.test(text))) return "already_exists";
  if (/Permission check failed/i.test(text)) return "auth";
  return undefined;
}

/** Kind of an HTTP answer from pveproxy (§1.3). Text wins over status where it is specific. */
export function kindOfPveHttp(status: number, text: string): BackendErrorKind {
  if (status === 401 || status === 403) return "auth";
  // §1.3: AnyEvent::HTTP codes — pveproxy could not reach pvedaemon or another node.
  if (status === 595 || status === 596 || status === 599 || status === 502 || status === 503 || status === 504) {
    return "unreachable";
  }
  const byText = kindOfPveText(text);
  if (byText) return byText;
  if (status === 400) return "invalid_argument";
  return "internal";
}

/** The hint operators get for each kind when Proxmox said nothing more useful. */
export function hintFor(kind: BackendErrorKind, text: string, vmid?: number): string | undefined {
  switch (kind) {
    case "locked": {
      const reason = lockedReason(text);
      const id = vmid ?? "<vmid>";
      return `VM ${id} carries 'lock: ${reason ?? "?"}'. If no task is running on it (Datacenter → Tasks), the lock leaked: run 'qm unlock ${id}' on the node.`;
    }
    case "lock_timeout":
      return "Proxmox lock contention (parallel clones on one storage?). Lower proxmox_clone_concurrency or retry later.";
    case "auth":
      return "check proxmox_api_token and the token's privileges (docs/proxmox-backends.md lists them); privilege-separated tokens need their own ACLs.";
    case "unreachable":
      return "Proxmox (pveproxy/pvedaemon) did not answer; check the node is up and proxmox_api_url is right.";
    default:
      return undefined;
  }
}

/** Build the BackendError for a Proxmox text. */
export function pveError(
  kind: BackendErrorKind,
  what: string,
  text: string,
  details: { vmid?: number; upid?: string; status?: number } = {},
  cause?: unknown,
): BackendError {
  const hint = hintFor(kind, text, details.vmid);
  const message = `${what}: ${text}`;
  return new BackendError(kind, message, { ...details, ...(hint ? { hint } : {}) }, cause ? { cause } : undefined);
}
