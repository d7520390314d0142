/**
 * Task IDs exactly as PVE prints them (reference/proxmox.md §1.4):
 * `UPID:<node>:<pid 8 hex>:<pstart 8-9 hex>:<starttime 8 hex>:<type>:<id>:<user>:` — trailing colon,
 * upper-case hex, `user` may be a token (`root@pam!runner`).
 */
export interface Upid {
  node: string;
  pid: number;
  pstart: number;
  /** Seconds since the epoch. */
  starttime: number;
  type: string;
  id: string;
  user: string;
}

const hex = (value: number, width: number): string => value.toString(16).toUpperCase().padStart(width, "0");

export function formatUpid(upid: Upid): string {
  return `UPID:${upid.node}:${hex(upid.pid, 8)}:${hex(upid.pstart, 8)}:${hex(upid.starttime, 8)}:${upid.type}:${upid.id}:${upid.user}:`;
}

const UPID_PATTERN =
  /^UPID:([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:\s]+):([^:\s]*):([^:\s]+):$/;

/** Parses a UPID; returns undefined when it is not one (PVE: `unable to parse worker upid`). */
export function parseUpid(text: string): Upid | undefined {
  const m = UPID_PATTERN.exec(text);
  if (!m) return undefined;
  return {
    node: m[1]!,
    pid: Number.parseInt(m[3]!, 16),
    pstart: Number.parseInt(m[4]!, 16),
    starttime: Number.parseInt(m[5]!, 16),
    type: m[6]!,
    id: m[7]!,
    user: m[8]!,
  };
}
