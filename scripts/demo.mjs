#!/usr/bin/env node
// `npm run demo`: the main job of AgentLab on the embedded default, start to finish. Starts
// `agentlabd --dev` in a scratch folder, makes a small git repository, runs a job whose agent
// changes it, prints the outcome and the patch from the job's artifacts, and stops everything.
// Exit status 0 only when the job COMPLETED and its patch came back verified.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const cli = join(root, "clients/cli/bin/agentlab.mjs");
const daemon = join(root, "services/agentlabd/bin/agentlabd.mjs");
const keep = process.argv.includes("--keep");

const say = (text) => process.stdout.write(`\n\u001b[1m== ${text}\u001b[0m\n`);

const scratch = mkdtempSync(join(tmpdir(), "agentlab-demo-"));
// Local sandboxes start as an unprivileged uid that must be able to pass through this folder.
chmodSync(scratch, 0o711);
const repo = join(scratch, "repo");
let agentlabd;

function git(...args) {
  execFileSync("git", ["-c", "user.name=AgentLab demo", "-c", "user.email=demo@agentlab.invalid", ...args], {
    cwd: repo,
    stdio: "ignore",
  });
}

function agentlab(args, options = {}) {
  return spawnSync(process.execPath, [cli, ...args], {
    env: { ...process.env, ...options.env },
    stdio: options.capture ? ["ignore", "pipe", "inherit"] : "inherit",
    encoding: "utf8",
  });
}

async function waitForSocket(path, log) {
  for (let i = 0; i < 150; i++) {
    if (existsSync(path)) return;
    if (agentlabd.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`agentlabd did not start; its log:\n${readFileSync(log, "utf8")}`);
}

async function stopDaemon() {
  if (!agentlabd || agentlabd.exitCode !== null) return;
  const exited = new Promise((r) => agentlabd.once("exit", r));
  agentlabd.kill("SIGTERM");
  await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
  if (agentlabd.exitCode === null) agentlabd.kill("SIGKILL");
}

async function main() {
  say("a small git repository");
  mkdirSync(repo);
  git("init", "-q", "-b", "main");
  writeFileSync(join(repo, "README.md"), "# hello\n\nA repository for the AgentLab demo.\n");
  writeFileSync(join(repo, "greet.sh"), '#!/bin/sh\necho "hello"\n', { mode: 0o755 });
  git("add", ".");
  git("commit", "-q", "-m", "initial commit");
  process.stdout.write(`${repo} (branch main)\n`);

  say("starting agentlabd --dev (control, runner and artifacts in one process)");
  const log = join(scratch, "agentlabd.log");
  const out = openSync(log, "a");
  agentlabd = spawn(process.execPath, [daemon, "--dev"], { cwd: scratch, stdio: ["ignore", out, out] });
  const runDir = join(scratch, ".agentlab-dev", "run");
  const env = {
    AGENTLAB_SOCKET: join(runDir, "agentlabd.sock"),
    AGENTLAB_ARTIFACTS_SOCKET: join(runDir, "artifacts.sock"),
  };
  await waitForSocket(join(runDir, "artifacts.sock"), log);
  process.stdout.write(`pid ${agentlabd.pid}, log ${log}\nexport AGENTLAB_SOCKET=${env.AGENTLAB_SOCKET}\n`);
  agentlab(["status"], { env });

  say("agentlab job run: an agent changes the repository in a local sandbox");
  // The "agent" is a shell command here, so the demo needs no model or API key: it reads its task,
  // edits a file, adds one and commits another change, as a real coding agent would.
  const agent = [
    'echo "task: $AGENTLAB_TASK"',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion, not a template.
    "printf '#!/bin/sh\\necho \"hello, ${1:-world}\"\\n' > greet.sh",
    "echo 'Run ./greet.sh NAME to be greeted.' >> README.md",
    "echo '*.log' > .gitignore && git add .gitignore && git commit -q -m 'ignore logs'",
    'echo "done: greet.sh takes a name now"',
  ].join(" && ");
  const queued = agentlab(
    [
      "job",
      "run",
      "--repo",
      repo,
      "--task",
      "Make greet.sh greet the name it is given",
      "--profile",
      "local-ephemeral",
      "--agent-command",
      agent,
      "--no-follow",
      "--output",
      "json",
    ],
    { env, capture: true },
  );
  if (queued.status !== 0) throw new Error("job run was refused");
  const jobId = JSON.parse(queued.stdout).id;
  process.stdout.write(`job ${jobId} queued\n`);
  agentlab(["job", "logs", jobId, "--follow"], { env });
  const shown = agentlab(["job", "show", jobId, "--output", "json"], { env, capture: true });
  const job = JSON.parse(shown.stdout).job;
  agentlab(["job", "show", jobId, "--events-tail", "0"], { env });

  say("the job's artifacts");
  agentlab(["job", "artifacts", jobId], { env });

  say("the patch (downloaded and verified against its sha256)");
  const patch = agentlab(["job", "artifacts", "download", jobId, "--path", "changes.patch", "--out", "-"], {
    env,
    capture: true,
  });
  process.stdout.write(patch.stdout ?? "");

  say("sandboxes afterwards (destroyed once the job ended)");
  agentlab(["sandbox", "list", "--all"], { env });

  const ok = job.status === "COMPLETED" && patch.status === 0 && (patch.stdout ?? "").includes("greet.sh");
  say(ok ? `demo passed: job ${job.status}` : `demo FAILED: job ${job.status} ${job.failure_reason ?? ""}`);
  return ok ? 0 : 1;
}

let code = 1;
try {
  code = await main();
} catch (err) {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
} finally {
  await stopDaemon();
  if (keep) process.stdout.write(`kept ${scratch}\n`);
  else rmSync(scratch, { recursive: true, force: true });
}
process.exitCode = code;
