/**
 * The fake `qm`/`pvesh`/`pvesm` client (reference/proxmox.md §5.6), bundled standalone to
 * dist/fake-cli.mjs; argv[2] names the tool. It posts `{argv, uid}` to `$PVESIM_URL/__sim/cli`
 * and reproduces the simulator's stdout, stderr and exit code.
 */
import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(255);
}

const base = process.env.PVESIM_URL;
if (!base) fail("pve-sim fake CLI: PVESIM_URL is not set; use the cliEnv that createPveSim() returns");
const secret = process.env.PVESIM_SECRET ?? "";
const caFile = process.env.PVESIM_CA_FILE;
const uid = process.env.PVESIM_UID !== undefined ? Number(process.env.PVESIM_UID) : (process.getuid?.() ?? 0);
const body = JSON.stringify({ argv: process.argv.slice(2), uid });
const target = new URL("/__sim/cli", base);
const request = target.protocol === "https:" ? httpsRequest : httpRequest;

const req = request(
  target,
  {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-pvesim-secret": secret,
      "content-length": Buffer.byteLength(body),
    },
    ...(target.protocol === "https:" && caFile ? { ca: readFileSync(caFile) } : {}),
  },
  (res) => {
    const chunks: Buffer[] = [];
    res.on("data", (chunk: Buffer) => chunks.push(chunk));
    res.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      if (res.statusCode !== 200) fail(`pve-sim fake CLI: simulator answered ${res.statusCode}: ${text}`);
      const result = JSON.parse(text) as { stdout: string; stderr: string; exitCode: number };
      process.stdout.write(result.stdout);
      process.stderr.write(result.stderr);
      process.exitCode = result.exitCode;
    });
  },
);
req.on("error", (err) => fail(`pve-sim fake CLI: cannot reach ${target.href}: ${err.message}`));
req.end(body);
