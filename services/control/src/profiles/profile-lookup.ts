/** Profile lookups for request handlers: registry errors become domain errors (Connect codes). */
import { FailedPreconditionError, NotFoundError } from "@agentlab/core";
import { ProfileLookupError } from "./profile-errors.js";
import type { LoadedProfile } from "./profile-loader.js";
import type { ProfileRegistry } from "./profile-registry.js";

export function requireProfile(profiles: ProfileRegistry, name: string): LoadedProfile {
  try {
    return profiles.get(name);
  } catch (err) {
    if (err instanceof ProfileLookupError) {
      const details = { message: err.message, what: "profile", value: name };
      throw err.kind === "not_found"
        ? new NotFoundError({ ...details, hint: "list profiles with `agentlab profile list`" })
        : new FailedPreconditionError({ ...details, hint: "fix the profile file and run `agentlab profile reload`" });
    }
    throw err;
  }
}
