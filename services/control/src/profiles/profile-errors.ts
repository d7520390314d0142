import { closestKnownKey } from "./key-suggestion.js";
import { formatDiagnostic, type ProfileDiagnostic } from "./profile-diagnostic.js";

/**
 * What `ProfileRegistry.get` throws. Each names the profile and says what to do; `kind` lets the
 * route layer map it to a Connect code (not_found → NotFound, invalid → FailedPrecondition).
 */
export abstract class ProfileLookupError extends Error {
  abstract readonly kind: "not_found" | "invalid";
  constructor(
    readonly profileName: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class ProfileNotFoundError extends ProfileLookupError {
  readonly kind = "not_found";
  readonly knownNames: readonly string[];

  constructor(profileName: string, knownNames: readonly string[]) {
    const suggestion = closestKnownKey(profileName, knownNames);
    const next = suggestion
      ? `did you mean "${suggestion}"?`
      : knownNames.length > 0
        ? `available profiles: ${knownNames.join(", ")}`
        : "no profiles are loaded; add YAML files to profiles_dir and reload";
    super(profileName, `profile "${profileName}" does not exist; ${next}`);
    this.knownNames = knownNames;
  }
}

export class ProfileInvalidError extends ProfileLookupError {
  readonly kind = "invalid";

  constructor(
    profileName: string,
    readonly errors: readonly ProfileDiagnostic[],
  ) {
    const first = errors[0];
    const detail = first
      ? `: ${formatDiagnostic(first)}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ""}`
      : "";
    super(
      profileName,
      `profile "${profileName}" is invalid and cannot be used${detail}; fix the file and reload profiles`,
    );
  }
}
