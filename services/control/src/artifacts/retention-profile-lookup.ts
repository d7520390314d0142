/** Retention minutes per profile name, from the profile registry, for createArtifactRetention. */
import type { ProfileRegistry } from "../profiles/profile-registry.js";
import { artifactRetentionMinutes } from "../profiles/profile-schema.js";

/**
 * `find` returns the usable version (a stale profile's last good one). A profile that is unknown or
 * has never loaded gives undefined: its artifacts are kept, because deleting on a guess is not
 * recoverable and keeping is.
 */
export function retentionFromRegistry(registry: Pick<ProfileRegistry, "find">): (name: string) => number | undefined {
  return (name) => {
    const loaded = registry.find(name);
    return loaded ? artifactRetentionMinutes(loaded.profile) : undefined;
  };
}
