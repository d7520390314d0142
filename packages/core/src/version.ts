/**
 * The one source of truth for what build is running. scripts/build.mjs compiles the facts in
 * (from git, at build time); code run from source (tests, tsx) reports an unreleased dev build.
 */
export interface BuildInfo {
  /** `v<semver>` for a release, `dev` for anything else. */
  version: string;
  /** Abbreviated commit hash, at least 7 hex digits. */
  commit: string;
  /** Commit date, ISO-8601 UTC without fractional seconds. */
  date: string;
}

declare const __AGENTLAB_BUILD_INFO__: BuildInfo | undefined;

const SOURCE_BUILD: BuildInfo = { version: "dev", commit: "0000000", date: "1970-01-01T00:00:00Z" };

export const buildInfo: BuildInfo =
  typeof __AGENTLAB_BUILD_INFO__ === "undefined" ? SOURCE_BUILD : __AGENTLAB_BUILD_INFO__;

/** The line every binary prints for `--version`: `AgentLab version=v1.2.3 commit=abc1234 date=…`. */
export function versionLine(info: BuildInfo = buildInfo): string {
  return `AgentLab version=${info.version} commit=${info.commit} date=${info.date}`;
}
