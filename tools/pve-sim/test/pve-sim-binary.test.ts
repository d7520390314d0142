import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { request } from "node:https";
import type { TLSSocket } from "node:tls";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/** The bundled `pve-sim` binary (dist/pve-sim.mjs, rebuilt by vitest's global setup). */
const BIN = fileURLToPath(new URL("../bin/pve-sim.mjs", import.meta.url));
const BUNDLE = fileURLToPath(new URL("../dist/pve-sim.mjs", import.meta.url));

/** Other engineers' builds rewrite dist/ in the shared checkout: start only from a complete bundle. */
async function bundleComplete(): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (/\/\/# sourceMappingURL=pve-sim\.mjs\.map\s*$/.test(readFileSync(BUNDLE, "utf8"))) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`${BUNDLE} stayed incomplete; run npm run build`);
}

function firstLine(child: ReturnType<typeof spawn>): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffer = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      buffer += chunk.toString();
      const nl = buffer.indexOf("\n");
      if (nl >= 0) resolve(buffer.slice(0, nl));
    });
    child.once("exit", (code) => reject(new Error(`pve-sim exited ${code} before printing`)));
  });
}

describe("pve-sim binary", () => {
  it("prints --version", async () => {
    await bundleComplete();
    const child = spawn(process.execPath, [BIN, "--version"]);
    const line = await firstLine(child);
    expect(line).toMatch(/^AgentLab version=\S+ commit=[0-9a-f]{7,} date=\S+$/);
  });

  it("prints one JSON line, serves the certificate it reports, and exits 0 on SIGTERM", async () => {
    await bundleComplete();
    const child = spawn(process.execPath, [BIN, "--time-scale", "0.01", "--pve-version", "9", "--node", "lab1"]);
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    try {
      const info = JSON.parse(await firstLine(child)) as Record<string, unknown>;
      expect(info).toMatchObject({ pid: child.pid });
      expect(String(info.url)).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/api2\/json$/);
      expect(String(info.token)).toMatch(/^root@pam!runner=[0-9a-f-]{36}$/);
      expect(typeof info.cliSecret).toBe("string");
      const { peer, body } = await new Promise<{ peer: string; body: string }>((resolve, reject) => {
        // The fingerprint is the pin: verification is done by comparing it, as §1.7 recommends.
        const req = request(
          `${info.url}/nodes`,
          {
            headers: { authorization: `PVEAPIToken=${info.token}` },
            rejectUnauthorized: false,
            agent: false,
          },
          (res) => {
            const peerCert = (res.socket as TLSSocket).getPeerCertificate();
            let text = "";
            res.on("data", (c: Buffer) => {
              text += c.toString();
            });
            res.on("end", () => resolve({ peer: peerCert.fingerprint256, body: text }));
          },
        );
        req.on("error", reject);
        req.end();
      });
      expect(peer).toBe(info.fingerprint);
      const nodes = JSON.parse(body) as { data: Array<{ node: string; ssl_fingerprint: string }> };
      expect(nodes.data[0]).toMatchObject({ node: "lab1", ssl_fingerprint: info.fingerprint });
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
  });
});
