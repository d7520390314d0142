// Turns an AgentLab release version into a Debian one. Kept apart so the rule is testable alone.

/**
 * "v1.2.3" → "1.2.3"; "1.2.3-rc.1" → "1.2.3~rc.1" so that a release candidate sorts *before* the
 * release under dpkg's ordering (a plain "-" would make it the Debian revision and sort after).
 */
export function debianVersion(version) {
  const bare = version.replace(/^v/, "");
  const debian = bare.replace("-", "~");
  if (!/^[0-9][A-Za-z0-9.+~]*$/.test(debian)) {
    throw new Error(`version ${JSON.stringify(version)} cannot be a Debian version: use N.N.N or N.N.N-pre.N`);
  }
  return debian;
}

/** dpkg's architecture name for the machine that built better-sqlite3's native addon. */
export function debianArchitecture(nodeArch = process.arch) {
  const map = { x64: "amd64", arm64: "arm64", arm: "armhf", ia32: "i386" };
  const arch = map[nodeArch];
  if (!arch) throw new Error(`no Debian architecture for Node's ${nodeArch}`);
  return arch;
}
