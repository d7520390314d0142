import { lstat, mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { GitRunner } from "./git-command.js";
import { isRepairableGitDir, sanitizeGitDir } from "./git-config-sanitizer.js";
import { errorMessage, GuestError } from "./guest-error.js";

export interface CheckoutRequest {
  repoDir: string;
  repoUrl: string;
  /** Branch, tag or commit; empty means the remote's HEAD. */
  ref: string;
  /** `--depth` for the fetch; 0 fetches everything. */
  depth: number;
  git: GitRunner;
  log: (line: string) => void;
}

export interface CheckoutResult {
  /** HEAD once the ref is checked out: the base of changes.patch. */
  startCommit: string;
  /** True when an existing `.git` was sanitised and reused. */
  reused: boolean;
}

const COMMIT_SHA = /^[0-9a-f]{7,64}$/i;

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** Prepares the repository directory: a fresh `git init`, or a sanitised reused `.git`. */
async function prepareRepoDir(request: CheckoutRequest): Promise<boolean> {
  const { repoDir, git, log } = request;
  await mkdir(repoDir, { recursive: true });
  const gitDir = join(repoDir, ".git");
  if (await exists(gitDir)) {
    if (await isRepairableGitDir(gitDir)) {
      const removed = await sanitizeGitDir(gitDir);
      log(
        `reusing ${repoDir}: its .git is untrusted and was sanitised${removed.length ? ` (removed ${removed.join(", ")})` : ""}`,
      );
      // The config was rebuilt without remotes; add ours back below.
      await git.run(repoDir, ["init", "-q"]);
      return true;
    }
    log(`replacing ${gitDir}: it is a link or a worktree pointing outside the workspace`);
    await rm(gitDir, { recursive: true, force: true });
  } else if ((await readdir(repoDir)).length > 0) {
    throw new GuestError(
      `repository directory ${repoDir} is not empty and has no .git`,
      "empty it, or set AGENTLAB_REPO_DIR to an empty directory",
    );
  }
  await git.run(repoDir, ["init", "-q"]);
  return false;
}

/**
 * A repository given as a local path (local sandboxes show it read-only at the same path) belongs to
 * another uid than the sandbox's, and git refuses to read such a repository ("dubious ownership").
 * The job named it explicitly, so it is trusted for the fetch only: through a config file used as
 * the global config of the fetch (`-c` would not reach the upload-pack git runs in the source
 * repository: git clears GIT_CONFIG_PARAMETERS when it crosses into another repository).
 */
export async function localRepoTrust(repoUrl: string): Promise<Record<string, string>> {
  const path = repoUrl.startsWith("file://") ? repoUrl.slice("file://".length) : repoUrl;
  if (!path.startsWith("/")) return {};
  const bare = path.replace(/\/+$/, "") || "/";
  const quote = (value: string) => `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
  const dir = await mkdtemp(join(tmpdir(), "agentlab-git-"));
  const file = join(dir, "gitconfig");
  await writeFile(file, `[safe]\n\tdirectory = ${quote(bare)}\n\tdirectory = ${quote(`${bare}/.git`)}\n`, {
    mode: 0o600,
  });
  return { GIT_CONFIG_GLOBAL: file };
}

/** Fetches the ref; returns what to check out. */
async function fetchRef(request: CheckoutRequest): Promise<string> {
  const { repoDir, git, depth, log } = request;
  const ref = request.ref.trim() || "HEAD";
  const depthArgs = depth > 0 ? [`--depth=${depth}`] : [];
  const trust = await localRepoTrust(request.repoUrl);
  try {
    await git.run(repoDir, ["fetch", "-q", "--no-tags", "--no-recurse-submodules", ...depthArgs, "origin", ref], trust);
    return "FETCH_HEAD";
  } catch (err) {
    if (!COMMIT_SHA.test(ref)) throw err;
    // Servers that refuse to serve an unadvertised commit by id (or an abbreviated id) need the
    // whole history; then the commit is looked up locally.
    log(`fetching commit ${ref} directly failed (${errorMessage(err)}); fetching the full history`);
    const shallow = await exists(join(repoDir, ".git", "shallow"));
    await git.run(
      repoDir,
      [
        "fetch",
        "-q",
        "--no-tags",
        "--no-recurse-submodules",
        ...(shallow ? ["--unshallow"] : []),
        "origin",
        "+refs/heads/*:refs/remotes/origin/*",
      ],
      trust,
    );
    return (await git.run(repoDir, ["rev-parse", "--verify", "--end-of-options", `${ref}^{commit}`])).trim();
  }
}

/** Clones `repoUrl` at `ref` into `repoDir` on branch `agentlab` and records the starting commit. */
export async function checkoutRepo(request: CheckoutRequest): Promise<CheckoutResult> {
  const { repoDir, git } = request;
  if (!request.repoUrl) throw new GuestError("the job has no repo_url", "submit the job with --repo");
  try {
    const reused = await prepareRepoDir(request);
    await git.run(repoDir, ["remote", "remove", "origin"]).catch(() => "");
    await git.run(repoDir, ["remote", "add", "origin", request.repoUrl]);
    const target = await fetchRef(request);
    await git.run(repoDir, ["checkout", "-q", "-f", "-B", "agentlab", target]);
    // Leftovers of an earlier job would otherwise show up in this job's patch; ignored files (build
    // caches, the reason to reuse a workspace) stay.
    if (reused) await git.run(repoDir, ["clean", "-q", "-f", "-f", "-d"]);
    const startCommit = (await git.run(repoDir, ["rev-parse", "HEAD"])).trim();
    return { startCommit, reused };
  } catch (err) {
    if (err instanceof GuestError && err.message.startsWith("repository directory")) throw err;
    throw new GuestError(
      `cannot check out ${request.repoUrl} at ${request.ref || "HEAD"} into ${repoDir}: ${errorMessage(err)}`,
      "check the repository URL, the ref and the git credentials of the profile's secrets bundle",
      { cause: err },
    );
  }
}
