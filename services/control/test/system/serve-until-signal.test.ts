/**
 * The serve path shared by agentlabd and the standalone services: a part that stops on its own (the
 * runner thread) shuts the rest down and exits 1, so systemd restarts the daemon instead of leaving
 * control serving without a runner.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "@agentlab/core";
import { afterEach, describe, expect, it } from "vitest";
import { runServiceCommand } from "../../src/service-commands.js";

describe("serving until a signal or a failure", () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const configPath = () => {
    dir = mkdtempSync(join(tmpdir(), "agentlab-serve-"));
    const path = join(dir, "config.yaml");
    writeFileSync(
      path,
      `data_dir: ${dir}/data\nrun_dir: ${dir}/run\nprofiles_dir: ${dir}/profiles\nsandbox_backend: local\n`,
      { mode: 0o600 },
    );
    return path;
  };

  it("a part failing on its own closes everything and exits 1, naming the failure", async () => {
    const lines: string[] = [];
    let closed = 0;
    const code = await runServiceCommand(["--config", configPath()], {
      program: "agentlabd",
      io: { out: () => {}, err: (line) => lines.push(line) },
      loadConfig: (flags) => loadConfig({ path: String(flags.config) }),
      async serve() {
        return {
          reload: async () => {},
          close: async () => {
            closed++;
          },
          failure: Promise.resolve(new Error("the runner thread ended (exit code 1)")),
        };
      },
    });
    expect(code).toBe(1);
    expect(closed).toBe(1);
    expect(lines).toContain("agentlabd: the runner thread ended (exit code 1); shutting down");
  });

  it("SIGTERM still closes once and exits 0 when nothing failed", async () => {
    let closed = 0;
    const serving = runServiceCommand(["--config", configPath()], {
      program: "agentlabd",
      io: { out: () => {}, err: () => {} },
      loadConfig: (flags) => loadConfig({ path: String(flags.config) }),
      async serve() {
        setImmediate(() => process.emit("SIGTERM"));
        return {
          reload: async () => {},
          close: async () => {
            closed++;
          },
          failure: new Promise<Error>(() => {}),
        };
      },
    });
    expect(await serving).toBe(0);
    expect(closed).toBe(1);
  });
});
