import { chmodSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { callContext, LocalTestHarness } from "./local-test-harness.js";

/**
 * One sandbox per isolation tool runs a script of escape attempts as its init and writes one
 * `key=value` line per check to /work/result.txt; the runner (root) reads the file from the host.
 */
function escapeCheckScript(input: { hostDir: string; hiddenDir: string; tcpPort: number; nodePath: string }): string {
  const node = input.nodePath;
  const tcpProbe =
    `const s=require("net").connect(${input.tcpPort},"127.0.0.1");` +
    `s.on("connect",()=>{console.log("tcp=connected");process.exit(0)});` +
    `s.on("error",e=>{console.log("tcp="+e.code);process.exit(0)})`;
  const socketProbe =
    `const s=require("net").connect("/run/agentlab/control.sock");s.on("connect",()=>s.write("ping\\n"));` +
    `s.on("data",d=>{console.log("socket="+d);process.exit(0)});` +
    `s.on("error",e=>{console.log("socket="+e.code);process.exit(0)})`;
  return `
exec > /work/result.txt 2>/work/errors.txt
echo "uid=$(id -u)"
echo "init=$(cat /proc/1/comm)"
echo "pids=$(ls /proc | grep -E '^[0-9]+$' | tr '\\n' ' ')"
mount -o remount,rw / && echo remount=ok || echo remount=denied
mount -t tmpfs x /usr && echo mount=ok || echo mount=denied
touch /usr/agentlab-escape && echo usr=ok || echo usr=denied
touch /etc/agentlab-escape && echo etc=ok || echo etc=denied
touch ${input.hostDir}/open/escape && echo hostdir=ok || echo hostdir=denied
cat ${input.hiddenDir}/marker && echo hidden=readable || echo hidden=unreadable
echo "hiddenls=$(ls -A ${input.hiddenDir} | tr '\\n' ' ')"
echo "rootls=$(ls -A /root | tr '\\n' ' ')"
grep -E '^(CapEff|CapPrm|CapBnd|CapInh|CapAmb|NoNewPrivs):' /proc/self/status | tr -d ' \\t' | sed 's/:/=/'
echo "ifaces=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\\n' ' ')"
${node} -e '${tcpProbe}'
${node} -e '${socketProbe}'
echo w > /work/w && echo work=ok || echo work=denied
echo t > /tmp/t && echo tmp=ok || echo tmp=denied
echo h > "$HOME/h" && echo home=ok || echo home=denied
${node} -e 'console.log("node=" + process.version)'
echo "bootstrap=$(cat /etc/agentlab/bootstrap.json)"
echo "bootstrapmode=$(stat -c '%a %u' /etc/agentlab/bootstrap.json)"
echo "hostname=$(cat /proc/sys/kernel/hostname)"
unshare --user --map-root-user true && echo userns=ok || echo userns=denied
echo done=yes
`;
}

describe.each(["bwrap", "unshare"] as const)("local sandbox isolation (%s, run as root)", (isolation) => {
  const harness = new LocalTestHarness(isolation);
  let results: Record<string, string> = {};
  const vmid = isolation === "bwrap" ? 9101 : 9102;

  beforeAll(async () => {
    const hiddenDir = harness.hiddenDirWithMarker();
    mkdirSync(path.join(harness.hostDir, "open"), { mode: 0o777 });
    chmodSync(path.join(harness.hostDir, "open"), 0o777);
    const socketPath = await harness.unixPongServer();
    const tcpPort = await harness.loopbackTcpServer();
    const backend = harness.backend({ hiddenPaths: [hiddenDir] });
    const script = escapeCheckScript({ hostDir: harness.hostDir, hiddenDir, tcpPort, nodePath: process.execPath });
    await backend.provision(
      callContext(),
      harness.spec(vmid, {
        guestCommand: ["/bin/sh", "-c", script],
        mounts: [{ hostPath: socketPath, sandboxPath: "/run/agentlab/control.sock" }],
      }),
    );
    await backend.start(callContext(), vmid);
    await harness.waitStopped(backend, vmid);
    results = harness.readResults(vmid);
  });

  afterAll(() => harness.cleanup());

  it("ran the whole check script as the unprivileged sandbox uid", () => {
    expect(results.done, readFileSync(harness.workFile(vmid, "errors.txt"), "utf8")).toBe("yes");
    expect(results.uid).toBe("1000");
  });

  it("sees only its own PIDs", () => {
    const pids = (results.pids ?? "").trim().split(" ").map(Number);
    expect(pids.length).toBeGreaterThan(0);
    expect(pids.length).toBeLessThan(10);
    expect(pids).not.toContain(process.pid);
    // The host's init and this test process are not in the sandbox's PID namespace.
    expect(results.init).not.toBe(readFileSync("/proc/1/comm", "utf8").trim());
  });

  it("cannot remount, mount, or write the host filesystem", () => {
    expect(results.remount).toBe("denied");
    expect(results.mount).toBe("denied");
    expect(results.usr).toBe("denied");
    expect(results.etc).toBe("denied");
    expect(results.hostdir).toBe("denied");
    expect(existsSync("/usr/agentlab-escape")).toBe(false);
    expect(existsSync(path.join(harness.hostDir, "open", "escape"))).toBe(false);
  });

  it("cannot read hidden paths nor /root", () => {
    expect(results.hidden).toBe("unreadable");
    expect(results.hiddenls).toBe("");
    expect(results.rootls).toBe("");
  });

  it("holds no capability and has no_new_privs", () => {
    for (const set of ["CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb"]) {
      expect(results[set], set).toMatch(/^0+$/);
    }
    expect(results.NoNewPrivs).toBe("1");
    expect(results.userns).toBe("denied");
  });

  it("has only loopback and cannot reach the host's 127.0.0.1", () => {
    expect(results.ifaces?.trim()).toBe("lo");
    expect(results.tcp).not.toBe("connected");
    expect(results.tcp).toBe("ECONNREFUSED");
  });

  it("reaches the host through a bind-mounted Unix socket", () => {
    expect(results.socket).toBe("pong");
  });

  it("can write /work, /tmp and its home, backed by its own directory", () => {
    expect(results.work).toBe("ok");
    expect(results.tmp).toBe("ok");
    expect(results.home).toBe("ok");
    expect(readFileSync(harness.workFile(vmid, "w"), "utf8")).toBe("w\n");
    expect(readFileSync(path.join(harness.sandboxDir, String(vmid), "tmp", "t"), "utf8")).toBe("t\n");
  });

  it("runs the host's node and reads its bootstrap document", () => {
    expect(results.node).toBe(process.version);
    expect(JSON.parse(results.bootstrap ?? "")).toEqual({ job: "test", vmid });
    expect(results.bootstrapmode).toBe("600 1000");
    expect(results.hostname).toBe(`sandbox-${vmid}`);
  });
});
