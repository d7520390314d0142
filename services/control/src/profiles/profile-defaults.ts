import type { Profile } from "./profile-schema.js";

/**
 * How RunJob and CreateSandbox settle keepalive and TTL: what the request says wins, else the
 * profile's `behavior` defaults, else the global defaults. A TTL of 0 or less means "no TTL" at every
 * level (as upstream), and is reported as `null`.
 */
export interface GlobalSandboxDefaults {
  keepalive: boolean;
  /** ≤ 0 = no TTL. */
  ttlMinutes: number;
}

/** Upstream's behaviour when neither request nor profile says anything: destroy after the job, no TTL. */
export const BUILTIN_SANDBOX_DEFAULTS: GlobalSandboxDefaults = { keepalive: false, ttlMinutes: 0 };

export interface SandboxLifetimeRequest {
  /** `undefined` = not given by the caller. */
  keepalive?: boolean | undefined;
  /** `undefined` = not given; ≤ 0 = explicitly no TTL. */
  ttlMinutes?: number | undefined;
}

export type DefaultSource = "request" | "profile" | "global";

export interface ResolvedSetting<T> {
  value: T;
  source: DefaultSource;
}

export interface SandboxLifetime {
  keepalive: ResolvedSetting<boolean>;
  /** `null` = no TTL. */
  ttlMinutes: ResolvedSetting<number | null>;
}

export interface ProfileDefaultsDescription extends SandboxLifetime {
  /** Per-profile admission cap; `undefined` = only the global cap applies. */
  maxActive: number | undefined;
}

/** What a request that says nothing would get from this profile, and where each value comes from. */
export function describeProfileDefaults(
  profile: Profile,
  globals: GlobalSandboxDefaults = BUILTIN_SANDBOX_DEFAULTS,
): ProfileDefaultsDescription {
  return { ...applyProfileDefaults({}, profile, globals), maxActive: profile.behavior.max_active };
}

export function applyProfileDefaults(
  request: SandboxLifetimeRequest,
  profile: Profile,
  globals: GlobalSandboxDefaults = BUILTIN_SANDBOX_DEFAULTS,
): SandboxLifetime {
  const keepalive = pick(request.keepalive, profile.behavior.keepalive_default, globals.keepalive);
  const ttl = pick(request.ttlMinutes, profile.behavior.ttl_minutes_default, globals.ttlMinutes);
  return { keepalive, ttlMinutes: { value: ttl.value > 0 ? ttl.value : null, source: ttl.source } };
}

function pick<T>(fromRequest: T | undefined, fromProfile: T | undefined, fromGlobals: T): ResolvedSetting<T> {
  if (fromRequest !== undefined) return { value: fromRequest, source: "request" };
  if (fromProfile !== undefined) return { value: fromProfile, source: "profile" };
  return { value: fromGlobals, source: "global" };
}
