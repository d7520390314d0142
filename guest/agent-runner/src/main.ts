import { versionLine } from "@agentlab/core/version";
import { errorMessage } from "./guest-error.js";
import { EXIT_RETRY, runGuest } from "./guest-main.js";
import { resolveSettings } from "./guest-settings.js";
import { GuestStop, STOP_SIGNALS, type StopSignal, signalExitCode } from "./guest-stop.js";
import { FORCED_EXIT_MS } from "./job-stop.js";
import { keepCacheForRestart, wipeSecrets } from "./secrets-wipe.js";

const USAGE = `usage: agentlab-guest [--version | --wipe-secrets | --help]

Runs inside an AgentLab sandbox: fetches the job with the bootstrap token, clones the repository,
runs the agent, streams its output, uploads the artifacts and reports the outcome.
  --wipe-secrets  remove the secrets the guest wrote (systemd ExecStopPost)
Environment: AGENTLAB_BOOTSTRAP_FILE, AGENTLAB_RUN_DIR, AGENTLAB_SECRETS_DIR, AGENTLAB_JOB_DIR,
AGENTLAB_REPO_DIR, AGENTLAB_GIT_DEPTH, AGENTLAB_KILL_GRACE_SECONDS (docs/guest-runner.md).
`;

async function main(argv: string[]): Promise<number> {
  if (argv.includes("--version")) {
    process.stdout.write(`${versionLine()}\n`);
    return 0;
  }
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (argv.includes("--wipe-secrets")) {
    await wipeSecrets(await resolveSettings(process.env), { keepPayloadCache: keepCacheForRestart(process.env) });
    return 0;
  }
  if (argv.length > 0) {
    process.stderr.write(`agentlab-guest: unknown argument ${argv[0]}\n${USAGE}`);
    return 2;
  }
  return runWithStopSignals();
}

/**
 * Runs the guest with SIGTERM and SIGINT turned into an orderly stop (see GuestStop): the first stops
 * the agent and still uploads and reports, a second exits at once. Once the guest is done, or when a
 * signal came at all, the process exits at once rather than waiting for connections to drain.
 */
async function runWithStopSignals(): Promise<number> {
  const stop = new GuestStop();
  let done = false;
  const onSignal = (signal: StopSignal) => {
    if (done) process.exit(signalExitCode(signal));
    // A forced exit keeps the final report first; this bounds it should even that hang.
    if (stop.signal) setTimeout(() => process.exit(EXIT_RETRY), FORCED_EXIT_MS + 1_000).unref();
    stop.receive(signal);
  };
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
  const code = await runGuest({ env: process.env, tuning: testTuningFromEnv(process.env), stop });
  done = true;
  if (stop.signal) process.exit(code);
  return code;
}

/**
 * AGENTLAB_TTL_SECONDS_OVERRIDE exists for end-to-end tests only: the API's smallest TTL is one
 * minute, too long to wait for a TIMEOUT in a test. Honoured only when set to a positive whole number
 * of seconds; it replaces the job's ttl_minutes for the agent's time limit. Never set in a template.
 */
function testTuningFromEnv(env: NodeJS.ProcessEnv): { agentTtlMs?: number } {
  const raw = env.AGENTLAB_TTL_SECONDS_OVERRIDE?.trim();
  if (!raw || !/^[1-9]\d*$/.test(raw)) return {};
  return { agentTtlMs: Number(raw) * 1000 };
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`agentlab-guest: ${errorMessage(err)}\n`);
    process.exitCode = 1;
  },
);
