import { isHostMountKey, isPlainMapping } from "./host-mount-check.js";
import { closestKnownKey } from "./key-suggestion.js";
import type { DocumentFinding, KeyPath } from "./profile-diagnostic.js";
import { KNOWN_KEYS, type KnownKeyTree, type ProfileBackend } from "./profile-schema.js";

/**
 * Keys that only mean something to the Proxmox backend. On a local profile they are ignored with a
 * warning rather than refused, so one file can be copied between backends while it is being adapted.
 */
const PROXMOX_ONLY_KEYS: readonly KeyPath[] = [
  ["template_vmid"],
  ["storage"],
  ["network", "bridge"],
  ["network", "model"],
  ["network", "firewall"],
  ["network", "firewall_group"],
];

export interface UnknownKeyResult {
  /** The document without unknown or ignored keys, ready for the schema. */
  known: Record<string, unknown>;
  findings: DocumentFinding[];
}

/**
 * Walks the (legacy-migrated) document against the backend's known keys. Unknown keys warn, with the
 * closest known key at the same level, and are dropped; host-mount keys are skipped here because the
 * host-mount check already made them errors.
 */
export function checkUnknownKeys(document: Record<string, unknown>, backend: ProfileBackend): UnknownKeyResult {
  const findings: DocumentFinding[] = [];
  const known = structuredClone(document);

  if (backend === "local") {
    for (const path of PROXMOX_ONLY_KEYS) {
      const parent = path.length === 1 ? known : known[String(path[0])];
      const key = String(path[path.length - 1]);
      if (isPlainMapping(parent) && Object.hasOwn(parent, key)) {
        findings.push({
          severity: "warning",
          path,
          message: "applies only to backend proxmox and is ignored for backend local",
          value: parent[key],
          hint: "remove it, or set backend: proxmox",
        });
        delete parent[key];
      }
    }
  }
  walk(known, KNOWN_KEYS[backend], [], findings);
  return { known, findings };
}

function walk(mapping: Record<string, unknown>, tree: KnownKeyTree, path: KeyPath, findings: DocumentFinding[]): void {
  const knownHere = Object.keys(tree);
  for (const [key, value] of Object.entries(mapping)) {
    const childPath = [...path, key];
    const subtree = tree[key];
    if (subtree === undefined) {
      if (!isHostMountKey(key)) {
        const suggestion = closestKnownKey(key, knownHere);
        findings.push({
          severity: "warning",
          path: childPath,
          message: "is not a known profile key and is ignored",
          hint: suggestion
            ? `did you mean ${[...path, suggestion].join(".")}?`
            : `known keys here: ${knownHere.join(", ")}`,
        });
      }
      delete mapping[key];
    } else if (subtree !== true && isPlainMapping(value)) {
      walk(value, subtree, childPath, findings);
    }
  }
}
