/**
 * Proxmox task ids (reference/proxmox.md §1.4):
 * `UPID:<node>:<pid 8 hex>:<pstart 8–9 hex>:<starttime 8 hex>:<type>:<id>:<user>:` — trailing colon,
 * and `user` may itself contain `!` (token ids). The node matters: a task is polled on the node
 * named here, not on the node we called (§0 rule 4).
 */
export interface Upid {
  raw: string;
  node: string;
  pid: number;
  pstart: number;
  starttime: number;
  type: string;
  id: string;
  user: string;
}

const UPID_PATTERN =
  /^UPID:([A-Za-z0-9._-]+):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:]+):([^:]*):([^:]+):$/;

export function parseUpid(text: string): Upid | undefined {
  const m = UPID_PATTERN.exec(text.trim());
  if (!m) return undefined;
  return {
    raw: text.trim(),
    node: m[1]!,
    pid: Number.parseInt(m[2]!, 16),
    pstart: Number.parseInt(m[3]!, 16),
    starttime: Number.parseInt(m[4]!, 16),
    type: m[5]!,
    id: m[6]!,
    user: m[7]!,
  };
}

export function isUpid(value: unknown): value is string {
  return typeof value === "string" && parseUpid(value) !== undefined;
}

/** §1.4 rule 2: `OK` or `WARNINGS: <n>` is success; anything else is the error text. */
export function taskSucceeded(exitstatus: string): boolean {
  return exitstatus === "OK" || /^WARNINGS: \d+$/.test(exitstatus);
}
