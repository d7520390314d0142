/** Parsers for argument values; each throws a UsageError that says what was wrong and what is allowed. */

import {
  type SandboxSelector,
  SandboxSelectorSchema,
  type WorkspaceSelector,
  WorkspaceSelectorSchema,
} from "@agentlab/api";
import { create } from "@bufbuild/protobuf";
import { UsageError } from "./cli-errors.js";

/** A sandbox by VMID (all digits) or name (never all digits). */
export function parseSandboxRef(text: string): SandboxSelector {
  if (/^\d+$/.test(text)) {
    const vmid = Number(text);
    if (!Number.isSafeInteger(vmid) || vmid <= 0 || vmid > 2_147_483_647) {
      throw new UsageError(`invalid VMID ${JSON.stringify(text)}: expected a positive 32-bit integer`);
    }
    return create(SandboxSelectorSchema, { selector: { case: "vmid", value: vmid } });
  }
  if (text.trim() === "") throw new UsageError("sandbox name or VMID is empty");
  return create(SandboxSelectorSchema, { selector: { case: "name", value: text } });
}

/** A workspace by id (`workspace-…`) or name. */
export function parseWorkspaceRef(text: string): WorkspaceSelector {
  if (text.trim() === "") throw new UsageError("workspace id or name is empty");
  const isId = /^workspace-[0-9a-f]{16}$/.test(text);
  return create(WorkspaceSelectorSchema, { selector: { case: isId ? "id" : "name", value: text } });
}

/** TTL: whole minutes (`90`) or a duration (`90m`, `2h`, `1h30m`, `45s` rounded up to minutes). */
export function parseTtlMinutes(text: string): number {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    if (n > 0) return n;
  } else {
    const match = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text);
    if (match && text !== "") {
      const seconds = Number(match[1] ?? 0) * 3600 + Number(match[2] ?? 0) * 60 + Number(match[3] ?? 0);
      if (seconds > 0) return Math.ceil(seconds / 60);
    }
  }
  throw new UsageError(
    `invalid TTL ${JSON.stringify(text)}: use minutes (90) or a duration (90m, 2h, 1h30m), greater than 0`,
  );
}

export function parsePositiveInt(text: string, what: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n <= 0) {
    throw new UsageError(`invalid ${what} ${JSON.stringify(text)}: expected a positive integer`);
  }
  return n;
}

/** Workspace size: `20`, `20G` or `20GB` (GiB). */
export function parseSizeGb(text: string): number {
  const match = /^(\d+)\s*(?:g|gb|gib)?$/i.exec(text.trim());
  if (!match) throw new UsageError(`invalid size ${JSON.stringify(text)}: use GiB like 20, 20G or 20GB`);
  return parsePositiveInt(match[1] ?? "", "size");
}
