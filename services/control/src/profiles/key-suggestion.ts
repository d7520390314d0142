import { levenshtein } from "@agentlab/core";

/**
 * The known key an unknown one most plausibly meant: the nearest by edit distance when it is within
 * about a third of the key's length (at least 2 edits), or a known key that contains it or is
 * contained in it (`memory` → `memory_mb`, `ttl` → `ttl_minutes_default`). Otherwise nothing: a
 * wild suggestion is worse than none.
 */
export function closestKnownKey(unknown: string, known: readonly string[]): string | undefined {
  const wanted = unknown.toLowerCase().replaceAll("-", "_");
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of known) {
    const distance = levenshtein(wanted, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  if (best !== undefined && bestDistance <= Math.max(2, Math.floor(wanted.length / 3))) return best;
  if (wanted.length >= 3) return known.find((candidate) => candidate.includes(wanted) || wanted.includes(candidate));
  return undefined;
}
