/**
 * `agentlab`, the command-line client. Exit status: 0 ok, 1 the request or command failed, 2 usage.
 */
import { CommanderError } from "commander";
import { describeError, EXIT_FAILURE, EXIT_USAGE, OutcomeFailure } from "./cli-errors.js";
import { buildProgram } from "./program.js";

async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  // Commander exits by itself; we want our exit codes, and to apply them to subcommands too.
  program.exitOverride();
  const applyOverride = (cmd: typeof program) => {
    for (const sub of cmd.commands) {
      sub.exitOverride();
      applyOverride(sub);
    }
  };
  applyOverride(program);
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.exitCode === 0) return 0;
      if (err.code === "commander.help") return 0;
      return EXIT_USAGE;
    }
    if (err instanceof OutcomeFailure) return err.exitCode;
    const opts = program.opts<{ socket?: string; output?: string; json?: boolean }>();
    const endpoint = opts.socket ?? process.env.AGENTLAB_SOCKET ?? "/run/agentlab/agentlabd.sock";
    const described = describeError(err, endpoint);
    if (opts.json || opts.output === "json") {
      process.stdout.write(
        `${JSON.stringify({ error: { code: described.code, message: described.message } }, null, 2)}\n`,
      );
    }
    process.stderr.write(`agentlab: ${described.message}\n`);
    return described.exitCode ?? EXIT_FAILURE;
  }
}

process.exitCode = await main(process.argv);
