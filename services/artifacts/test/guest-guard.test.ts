import { RateLimiter } from "@agentlab/core/rate-limiter";
import { SubnetGuard } from "@agentlab/core/subnet-guard";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { type Harness, startHarness, uploadOverGrpc, uploadOverHttp } from "./support/harness.js";

const JOB = "job_0000000000000022";
const TOKEN = "tok-guard";

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.stop();
  harness = undefined;
});

describe("SubnetGuard", () => {
  it("checks IPv4, IPv6 and IPv4-mapped sources", () => {
    const guard = new SubnetGuard(["10.77.0.0/16", "fd00:77::/64"]);
    expect(guard.allows("10.77.3.4")).toBe(true);
    expect(guard.allows("::ffff:10.77.3.4")).toBe(true);
    expect(guard.allows("10.78.0.1")).toBe(false);
    expect(guard.allows("fd00:77::5")).toBe(true);
    expect(guard.allows("fd00:78::5")).toBe(false);
    expect(guard.allows("127.0.0.1")).toBe(false);
    expect(guard.allows(undefined)).toBe(false);
    expect(() => new SubnetGuard(["10.77.0.0"])).toThrow(/not a CIDR/);
    expect(() => new SubnetGuard(["10.77.0.0/33"])).toThrow(/not a CIDR/);
  });
});

describe("RateLimiter", () => {
  it("allows a burst, then refuses with a retry hint until tokens refill", () => {
    let now = 0;
    const limiter = new RateLimiter({ qps: 5, burst: 10, now: () => now });
    for (let i = 0; i < 10; i++) expect(limiter.take("a").allowed).toBe(true);
    expect(limiter.take("a")).toEqual({ allowed: false, retryAfterSeconds: 1 });
    expect(limiter.take("b").allowed).toBe(true);
    now += 200;
    expect(limiter.take("a").allowed).toBe(true);
    expect(limiter.take("a").allowed).toBe(false);
  });

  it("is off with qps or burst 0 and forgets idle keys", () => {
    expect(new RateLimiter({ qps: 0, burst: 10 }).take("a").allowed).toBe(true);
    let now = 0;
    const limiter = new RateLimiter({ qps: 1, burst: 1, now: () => now, idleForgetMs: 1000 });
    limiter.take("a");
    now = 5000;
    limiter.take("b");
    expect(limiter.size).toBe(1);
  });
});

describe("guest listener guard", () => {
  it("refuses sources outside agent_subnet before asking control", async () => {
    harness = await startHarness({ agentSubnet: "10.77.0.0/16" });
    harness.registry.addToken(TOKEN, JOB);
    const reply = await uploadOverHttp({ port: harness.guestPort, token: TOKEN, body: Buffer.from("x") });
    expect(reply.status).toBe(403);
    expect(reply.json?.error).toContain("outside agent_subnet");
    const err = await uploadOverGrpc(harness.guestClient, { token: TOKEN, body: Buffer.from("x") }).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(err?.code).toBe(Code.PermissionDenied);
    expect(harness.registry.authorizeCalls).toBe(0);
    expect(await harness.listFiles()).toEqual([]);
  });

  it("answers 429 with Retry-After over HTTP and RESOURCE_EXHAUSTED with retry-after over gRPC", async () => {
    const now = 0;
    harness = await startHarness({ rateLimit: { qps: 5, burst: 2 }, now: () => now });
    harness.registry.addToken(TOKEN, JOB);
    for (let i = 0; i < 2; i++) {
      const ok = await uploadOverHttp({
        port: harness.guestPort,
        token: TOKEN,
        path: `f${i}.txt`,
        body: Buffer.from("x"),
      });
      expect(ok.status).toBe(201);
    }
    const limited = await uploadOverHttp({ port: harness.guestPort, token: TOKEN, body: Buffer.from("x") });
    expect(limited.status).toBe(429);
    expect(limited.headers["retry-after"]).toBe("1");
    const err = await uploadOverGrpc(harness.guestClient, { token: TOKEN, body: Buffer.from("x") }).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(err?.code).toBe(Code.ResourceExhausted);
    expect(err?.metadata.get("retry-after")).toBe("1");
    expect(harness.registry.recordCalls).toBe(2);
  });
});
