import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";

/**
 * Throwaway network namespaces for the isolation test. Everything is created inside namespaces
 * named with a random suffix (never in the host's namespace), and `destroy` deletes them all,
 * stopping the processes started in them first.
 */
export class NetnsLab {
  readonly suffix = randomBytes(3).toString("hex");
  private readonly namespaces: string[] = [];
  private readonly processes: ChildProcess[] = [];

  name(role: string): string {
    return `al-${role}-${this.suffix}`;
  }

  addNamespace(role: string): string {
    const ns = this.name(role);
    run("ip", ["netns", "add", ns]);
    this.namespaces.push(ns);
    run("ip", ["-n", ns, "link", "set", "lo", "up"]);
    return ns;
  }

  /** Runs a command inside a namespace, throwing with its output if it fails. */
  exec(ns: string, command: string, args: string[], env?: NodeJS.ProcessEnv): string {
    return run("ip", ["netns", "exec", ns, command, ...args], env);
  }

  /**
   * A TCP listener in `ns` on each port (all addresses) answering every connection with the
   * address it came from, then closing. Resolves once all ports listen.
   */
  async listen(ns: string, ports: number[]): Promise<void> {
    const script = `
      const net = require("node:net");
      const ports = process.argv.slice(1).map(Number);
      let listening = 0;
      for (const port of ports) {
        const server = net.createServer((socket) => socket.end(socket.remoteAddress + "\\n"));
        server.listen(port, "0.0.0.0", () => { if (++listening === ports.length) console.log("ready"); });
      }`;
    const child = spawn("ip", ["netns", "exec", ns, process.execPath, "-e", script, ...ports.map(String)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    this.processes.push(child);
    await new Promise<void>((resolve, reject) => {
      let seen = "";
      child.stdout?.on("data", (chunk: Buffer) => {
        seen += chunk.toString();
        if (seen.includes("ready")) resolve();
      });
      child.once("exit", (code) => reject(new Error(`listener in ${ns} exited ${code} before listening`)));
    });
  }

  /**
   * One TCP connection attempt from `ns`, bounded to one second. Returns the address the listener
   * saw us come from, or the error code (TIMEOUT when nothing answered).
   */
  connect(ns: string, host: string, port: number): { connected: boolean; seenAs?: string; error?: string } {
    const script = `
      const net = require("node:net");
      const [host, port] = process.argv.slice(1);
      const done = (result) => { process.stdout.write(JSON.stringify(result)); process.exit(0); };
      const socket = net.connect({ host, port: Number(port) });
      socket.setTimeout(1000, () => done({ connected: false, error: "TIMEOUT" }));
      let data = "";
      socket.on("data", (chunk) => { data += chunk; });
      socket.on("end", () => done({ connected: true, seenAs: data.trim() }));
      socket.on("error", (err) => done({ connected: false, error: err.code }));`;
    const out = run("ip", ["netns", "exec", ns, process.execPath, "-e", script, host, String(port)]);
    return JSON.parse(out) as { connected: boolean; seenAs?: string; error?: string };
  }

  /** Stops every process started here, then deletes every namespace (and so every link in it). */
  async destroy(): Promise<void> {
    await Promise.all(
      this.processes.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once("exit", () => resolve());
            child.kill("SIGTERM");
          }),
      ),
    );
    for (const ns of this.namespaces.reverse()) spawnSync("ip", ["netns", "del", ns], { stdio: "ignore" });
  }
}

function run(command: string, args: string[], env?: NodeJS.ProcessEnv): string {
  const result = spawnSync(command, args, { encoding: "utf8", timeout: 20_000, ...(env && { env }) });
  if (result.status !== 0) {
    throw new Error(
      `${command} ${args.join(" ")} exited ${result.status ?? result.signal}:\n${result.stdout}${result.stderr}`,
    );
  }
  return result.stdout;
}
