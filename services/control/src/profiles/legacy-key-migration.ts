import { isPlainMapping } from "./host-mount-check.js";
import { type DocumentFinding, formatKeyPath, type KeyPath } from "./profile-diagnostic.js";

/**
 * Old spellings still accepted, each with the place its value now lives. The upgrade guide promised
 * `template_vm` → `template_vmid` and `cpu` → `cores`; upstream never shipped either (an old key
 * silently did nothing there, agentlab-reference.md §4.2 and §10), so we honour the guide: the old
 * key works, with a warning naming the new one. Top-level `cores` is the guide's "new" example but
 * cores live under `resources`, so it is a legacy spelling too. `artifacts.ttl_minutes` is the
 * upstream name of the first retention key.
 */
export const LEGACY_KEY_RENAMES: readonly { from: KeyPath; to: KeyPath }[] = [
  { from: ["template_vm"], to: ["template_vmid"] },
  { from: ["cpu"], to: ["resources", "cores"] },
  { from: ["cores"], to: ["resources", "cores"] },
  { from: ["artifacts", "ttl_minutes"], to: ["artifacts", "retention_minutes"] },
];

export interface LegacyMigrationResult {
  /** The document with legacy keys moved to their new places (the input is not modified). */
  migrated: Record<string, unknown>;
  findings: DocumentFinding[];
  /** For a new key filled from a legacy one: the legacy key's path, so errors point at what was written. */
  writtenAt: Map<string, KeyPath>;
}

export function migrateLegacyKeys(document: Record<string, unknown>): LegacyMigrationResult {
  const migrated = structuredClone(document);
  const findings: DocumentFinding[] = [];
  const writtenAt = new Map<string, KeyPath>();

  // Group by target so `cpu: 4` + `cores: 4` + `resources.cores: 4` is judged together.
  const targets = new Map<string, { to: KeyPath; from: KeyPath[] }>();
  for (const rename of LEGACY_KEY_RENAMES) {
    const key = formatKeyPath(rename.to);
    const entry = targets.get(key) ?? { to: rename.to, from: [] };
    entry.from.push(rename.from);
    targets.set(key, entry);
  }

  for (const { to, from } of targets.values()) {
    const presentLegacy = from.filter((path) => readPath(migrated, path).present);
    if (presentLegacy.length === 0) continue;
    const current = readPath(migrated, to);
    const spellings = [...(current.present ? [{ path: to, value: current.value }] : [])];
    for (const path of presentLegacy) spellings.push({ path, value: readPath(migrated, path).value });

    const first = spellings[0]!;
    const disagreeing = spellings.filter((spelling) => !sameValue(spelling.value, first.value));
    if (disagreeing.length > 0) {
      const listed = spellings.map((s) => `${formatKeyPath(s.path)}: ${JSON.stringify(s.value)}`).join(", ");
      for (const path of presentLegacy) {
        findings.push({
          severity: "error",
          path,
          message: `${formatKeyPath(to)} is set more than once, with different values (${listed})`,
          value: readPath(migrated, path).value,
          hint: `keep only ${formatKeyPath(to)} with the value you mean`,
        });
      }
    } else {
      for (const path of presentLegacy) {
        const alsoNew = current.present || presentLegacy.length > 1;
        findings.push({
          severity: "warning",
          path,
          message: `is a legacy name for ${formatKeyPath(to)}${alsoNew ? " (set to the same value, so it is redundant)" : ""}`,
          hint: `rename it to ${formatKeyPath(to)}`,
        });
      }
      if (!current.present && writePath(migrated, to, first.value)) {
        writtenAt.set(formatKeyPath(to), presentLegacy[0]!);
      }
    }
    for (const path of presentLegacy) deletePath(migrated, path);
  }
  return { migrated, findings, writtenAt };
}

function readPath(root: unknown, path: KeyPath): { present: boolean; value?: unknown } {
  let node: unknown = root;
  for (const segment of path) {
    if (!isPlainMapping(node) || !Object.hasOwn(node, segment)) return { present: false };
    node = node[segment];
  }
  return { present: true, value: node };
}

/** Creates missing parent mappings; gives up (false) when a parent exists but is not a mapping. */
function writePath(root: Record<string, unknown>, path: KeyPath, value: unknown): boolean {
  let node: Record<string, unknown> = root;
  for (const segment of path.slice(0, -1)) {
    const key = String(segment);
    if (node[key] === undefined || node[key] === null) node[key] = {};
    const next = node[key];
    if (!isPlainMapping(next)) return false;
    node = next;
  }
  node[String(path[path.length - 1])] = value;
  return true;
}

function deletePath(root: Record<string, unknown>, path: KeyPath): void {
  const parent = readPath(root, path.slice(0, -1));
  if (parent.present && isPlainMapping(parent.value)) delete parent.value[String(path[path.length - 1])];
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
