import { closeSync, openSync } from "node:fs";
import { rm } from "node:fs/promises";
import type { GitRunner } from "./git-command.js";
import { errorMessage, GuestError } from "./guest-error.js";

export interface PatchRequest {
  repoDir: string;
  /** The commit the agent started from. */
  startCommit: string;
  /** Where to write the patch. */
  patchFile: string;
  /** A scratch index file outside the repository. */
  scratchIndex: string;
  git: GitRunner;
}

/**
 * Writes one patch with everything the agent changed since `startCommit`: its commits, staged and
 * unstaged edits and new untracked (not ignored) files, binary-safe. The agent's own index and
 * working tree are left exactly as they are: the snapshot is staged into a scratch index
 * (GIT_INDEX_FILE), written as a tree, and diffed against the start. Returns the final HEAD.
 */
export async function buildPatch(request: PatchRequest): Promise<{ finalCommit: string }> {
  const { repoDir, git, scratchIndex } = request;
  const scratch = { GIT_INDEX_FILE: scratchIndex };
  try {
    await rm(scratchIndex, { force: true });
    const finalCommit = (await git.run(repoDir, ["rev-parse", "HEAD"])).trim();
    // Starting from HEAD's tree lets `add -A` hash only what differs from it.
    await git.run(repoDir, ["read-tree", "HEAD"], scratch);
    await git.run(repoDir, ["add", "-A", "--", "."], scratch);
    const tree = (await git.run(repoDir, ["write-tree"], scratch)).trim();
    const fd = openSync(request.patchFile, "w", 0o600);
    try {
      // No external diff drivers or textconv: the patch must be applicable, and the repository's
      // config is the agent's to change.
      await git.runToFd(
        repoDir,
        ["diff", "--binary", "--full-index", "--no-color", "--no-ext-diff", "--no-textconv", request.startCommit, tree],
        fd,
      );
    } finally {
      closeSync(fd);
    }
    return { finalCommit };
  } catch (err) {
    throw new GuestError(
      `cannot build changes.patch in ${repoDir}: ${errorMessage(err)}`,
      "the agent may have damaged the repository; the log and report are still uploaded",
      { cause: err },
    );
  } finally {
    await rm(scratchIndex, { force: true });
  }
}
