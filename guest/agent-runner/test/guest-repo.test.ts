import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { GuestJobStatus } from "@agentlab/api";
import { afterEach, describe, expect, it } from "vitest";
import { sanitizeGitConfig } from "../src/git-config-sanitizer.js";
import { git, makeOrigin } from "./support/git-fixtures.js";
import { runHarnessGuest, setupHarness } from "./support/guest-harness.js";

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe("reused workspace .git", () => {
  it("never runs planted hooks, filters, fsmonitor or includes and ignores url rewrites", async () => {
    const h = await setupHarness(cleanups, { agentCommand: "cat EVIL.txt 2>/dev/null || echo no-evil-file" });
    const evil = makeOrigin(join(h.root, "evil"), { "EVIL.txt": "attacker content\n" });
    // The previous job's agent left this repository behind, with traps in its .git.
    git(h.root, "clone", "-q", h.origin.url, h.repoDir);
    const marker = (name: string) => join(h.root, `${name}-ran`);
    const hook = join(h.repoDir, ".git", "hooks", "post-checkout");
    writeFileSync(hook, `#!/bin/sh\ntouch ${marker("hook")}\n`);
    chmodSync(hook, 0o755);
    const fsmonitor = join(h.root, "fsmonitor.sh");
    writeFileSync(fsmonitor, `#!/bin/sh\ntouch ${marker("fsmonitor")}\nexit 1\n`);
    chmodSync(fsmonitor, 0o755);
    const include = join(h.root, "evil-include");
    writeFileSync(include, `[core]\n\tfsmonitor = ${fsmonitor}\n\thooksPath = ${join(h.root, "evil-hooks")}\n`);
    const config = join(h.repoDir, ".git", "config");
    writeFileSync(
      config,
      readFileSync(config, "utf8") +
        `[include]\n\tpath = ${include}\n` +
        `[filter "evil"]\n\tsmudge = sh -c 'touch ${marker("filter")}; cat'\n\tclean = sh -c 'touch ${marker("filter")}; cat'\n` +
        `[url "${evil.url}"]\n\tinsteadOf = ${h.origin.url}\n` +
        `[core]\n\tsshCommand = touch ${marker("ssh")}\n`,
    );
    writeFileSync(join(h.repoDir, ".git", "info", "attributes"), "* filter=evil\n");

    expect(await runHarnessGuest(h)).toBe(0);
    const final = h.control.finalReport();
    expect(final?.status).toBe(GuestJobStatus.COMPLETED);
    expect(final?.startCommit).toBe(h.origin.head);
    for (const name of ["hook", "filter", "fsmonitor", "ssh"]) expect(existsSync(marker(name))).toBe(false);
    expect(existsSync(join(h.repoDir, "EVIL.txt"))).toBe(false);
    expect(h.control.logs.map((l) => l.data).join("")).toContain("no-evil-file");
    const cleaned = readFileSync(config, "utf8");
    expect(cleaned).not.toMatch(/include|filter|insteadOf|fsmonitor|sshCommand|evil/i);
    expect(git(h.repoDir, "remote", "get-url", "origin").trim()).toBe(h.origin.url);
    expect(h.control.logs.some((l) => l.stream === "system" && l.data.includes("sanitised"))).toBe(true);
  });

  it("checks out a commit sha given as the ref", async () => {
    const h = await setupHarness(cleanups, { agentCommand: "git log --format=%s" });
    const first = git(h.origin.dir, "rev-parse", "main~1").trim();
    // The server hands out this very object, so the job now names the first commit by its sha.
    if (h.payload?.job) h.payload.job.ref = first;
    expect(await runHarnessGuest(h)).toBe(0);
    expect(h.control.finalReport()?.startCommit).toBe(first);
    expect(
      h.control.logs
        .filter((l) => l.stream === "stdout")
        .map((l) => l.data)
        .join(""),
    ).toBe("first\n");
  });
});

describe("sanitizeGitConfig", () => {
  it("keeps only inert core keys and the object format", () => {
    const { config, dropped } = sanitizeGitConfig(
      [
        "[core]",
        "\trepositoryformatversion = 1",
        "\tfilemode = true",
        "\tfsmonitor = /tmp/x",
        "\tpager = evil \\",
        "\t  continued",
        '[includeIf "gitdir:/"]',
        "\tpath = /tmp/evil",
        "[extensions]",
        "\tobjectformat = sha256",
        '[remote "origin"]',
        "\turl = https://example.invalid/repo.git",
        "\tuploadpack = touch /tmp/pwned",
        "[alias]",
        "\tst = !touch /tmp/pwned",
      ].join("\n"),
    );
    expect(config).toBe(
      "[core]\n\trepositoryformatversion = 1\n\tfilemode = true\n[extensions]\n\tobjectformat = sha256\n",
    );
    expect(dropped).toEqual(
      expect.arrayContaining(["core.fsmonitor", "core.pager", "includeif.<sub>.path", "remote.<sub>.uploadpack"]),
    );
  });
});
