import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { FetchBootstrapResponseSchema } from "@agentlab/api";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { GuestTuning } from "../../src/guest-context.js";
import { type GuestOptions, runGuest } from "../../src/guest-main.js";
import { FakeControl, type FakeControlOptions } from "./fake-control.js";
import { makeOrigin, tempDir } from "./git-fixtures.js";

export const BOOTSTRAP_TOKEN = "bootstrap-token-0123456789abcdef";
export const REPORT_TOKEN = "report-token-0123456789abcdef";
export const UPLOAD_TOKEN = "upload-token-0123456789abcdef";
export const ENV_SECRET = "sk-live-SECRETVALUE-42";
export const GIT_TOKEN = "ghp_gittoken_ABCDEFGHIJ";
export const VMID = 9001;

export interface Harness {
  root: string;
  runDir: string;
  repoDir: string;
  bootstrapFile: string;
  origin: { url: string; head: string; dir: string };
  control: FakeControl;
  artifacts: FakeControl;
  env: NodeJS.ProcessEnv;
  sleeps: number[];
  guestLog: string[];
  payload: MessageInitShape<typeof FetchBootstrapResponseSchema> | undefined;
}

export interface HarnessOptions {
  agentCommand?: string;
  /** Extra files committed in the origin. */
  originFiles?: Record<string, string>;
  control?: Omit<FakeControlOptions, "payload">;
  /** undefined payload → NOT_FOUND. */
  noJob?: boolean;
  ref?: string;
}

/** Sets up an origin repository, the two Connect servers and the guest's directories. */
export async function setupHarness(cleanups: (() => void | Promise<void>)[], options: HarnessOptions = {}) {
  const syncCleanups: (() => void)[] = [];
  cleanups.push(() => {
    for (const c of syncCleanups.reverse()) c();
  });
  const root = tempDir("agentlab-guest-", syncCleanups);
  const origin = makeOrigin(root, options.originFiles);
  // Artifacts over a Unix socket, control over TCP: both transports get exercised.
  const artifacts = await new FakeControl({ socketPath: join(root, "artifacts.sock") }).start();
  cleanups.push(() => artifacts.close());
  const payload: MessageInitShape<typeof FetchBootstrapResponseSchema> | undefined = options.noJob
    ? undefined
    : {
        job: {
          id: "job_0123456789abcdef",
          repoUrl: origin.url,
          ref: options.ref ?? "main",
          task: "Improve the README",
          mode: "dev",
          profile: "default",
          ttlMinutes: 5,
          agentCommand: options.agentCommand ?? "",
        },
        reportToken: REPORT_TOKEN,
        upload: { endpoint: artifacts.url, token: UPLOAD_TOKEN, maxBytes: 1n << 30n },
        env: { API_KEY: ENV_SECRET, SHORT: "abc" },
        git: { token: GIT_TOKEN },
        heartbeatIntervalSeconds: 1,
        logStreamMaxBytes: 1n << 20n,
      };
  const control = await new FakeControl({ ...options.control, payload }).start();
  cleanups.push(() => control.close());
  const runDir = join(root, "run");
  const repoDir = join(root, "work", "repo");
  const bootstrapFile = join(root, "bootstrap.json");
  writeFileSync(bootstrapFile, JSON.stringify({ token: BOOTSTRAP_TOKEN, vmid: VMID, controller: control.url }));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: root,
    GIT_CONFIG_NOSYSTEM: "1",
    AGENTLAB_BOOTSTRAP_FILE: bootstrapFile,
    AGENTLAB_RUN_DIR: runDir,
    AGENTLAB_REPO_DIR: repoDir,
  };
  const harness: Harness = {
    root,
    runDir,
    repoDir,
    bootstrapFile,
    origin,
    control,
    artifacts,
    env,
    sleeps: [],
    guestLog: [],
    payload,
  };
  return harness;
}

/**
 * Runs the guest in-process against the harness, with no real waiting between retries. `deps` may
 * pass a GuestStop to stop it by hand, or a spawn that wraps what it runs.
 */
export function runHarnessGuest(
  harness: Harness,
  tuning: Partial<GuestTuning> = {},
  deps: Pick<GuestOptions, "stop" | "spawn"> = {},
): Promise<number> {
  return runGuest({
    ...deps,
    env: harness.env,
    sleep: async (ms) => {
      harness.sleeps.push(ms);
    },
    log: (line) => harness.guestLog.push(line),
    tuning: { logFlushIntervalMs: 50, heartbeatIntervalMs: 200, killGraceMs: 500, ...tuning },
  });
}
