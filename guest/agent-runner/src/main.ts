import { versionLine } from "@agentlab/core/version";
import { errorMessage } from "./guest-error.js";
import { runGuest } from "./guest-main.js";
import { resolveSettings } from "./guest-settings.js";
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
  return runGuest({ env: process.env, tuning: testTuningFromEnv(process.env) });
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
