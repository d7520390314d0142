/**
 * `pve-sim`: runs the simulator as a process (for compose staging, demos, manual poking).
 * Prints one JSON line `{url, fingerprint, token, cliSecret, pid}` and runs until SIGTERM/SIGINT.
 */
import { versionLine } from "@agentlab/core/version";
import { createPveSim } from "./create-pve-sim.js";
import type { PveSimOptions } from "./sim-options.js";

const USAGE = `usage: pve-sim [--port N] [--host 127.0.0.1] [--node pve] [--time-scale 1] [--snippets-dir DIR]
               [--pve-version 8.2|9] [--token 'user@realm!id=uuid'] [--http] [--keep-alive] [--version]`;

function parseFlags(argv: string[]): { options: PveSimOptions; host: string | undefined } {
  const options: PveSimOptions = {};
  let host: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`pve-sim: ${flag} needs a value\n${USAGE}`);
      return v;
    };
    switch (flag) {
      case "--port":
        options.port = Number(value());
        break;
      case "--host":
        host = value();
        break;
      case "--node":
        options.node = value();
        break;
      case "--time-scale":
        options.timeScale = Number(value());
        break;
      case "--snippets-dir":
        options.snippetsDir = value();
        break;
      case "--pve-version":
        options.pveVersion = value();
        break;
      case "--token": {
        const token = value();
        const cut = token.lastIndexOf("=");
        if (cut <= 0) throw new Error(`pve-sim: --token must look like 'user@realm!tokenid=uuid', got '${token}'`);
        options.tokens = { [token.slice(0, cut)]: token.slice(cut + 1) };
        break;
      }
      case "--http":
        options.http = true;
        break;
      case "--keep-alive":
        options.keepAlive = true;
        break;
      default:
        throw new Error(`pve-sim: unknown flag '${flag}'\n${USAGE}`);
    }
  }
  return { options, host };
}

async function main(): Promise<void> {
  if (process.argv.includes("--version")) {
    process.stdout.write(`${versionLine()}\n`);
    return;
  }
  const { options, host } = parseFlags(process.argv.slice(2));
  // 127.0.0.1 unless the operator names another address explicitly (e.g. compose staging).
  const sim = await createPveSim(host !== undefined ? { ...options, host } : options);
  process.stdout.write(
    `${JSON.stringify({ url: sim.url, fingerprint: sim.fingerprint, token: sim.token, cliSecret: sim.controlSecret, cliEnv: sim.cliEnv, httpUrl: sim.httpUrl, pid: process.pid })}\n`,
  );
  const stop = (): void => {
    sim.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
