import { createHash } from "node:crypto";
import { PermissionDeniedError, ResourceExhaustedError } from "./errors.js";
import { RateLimiter } from "./rate-limiter.js";
import { SubnetGuard } from "./subnet-guard.js";

export interface GuestGuardOptions {
  /** agent_subnet: one CIDR or several, comma-separated or as a list. */
  agentSubnet: string | readonly string[];
  /** Rate limit (e.g. artifact_rate_limit_qps / _burst); 0 disables. Applied per source address and per token. */
  qps: number;
  burst: number;
  now?: () => number;
  /**
   * The listener is a Unix socket mounted into local sandboxes: calls have no source address, and
   * reaching the socket at all is the proof of origin. Rate limits still apply (per token).
   */
  localSocket?: boolean;
  /** Config key prefix of the limits, for hints: "artifact" or "bootstrap". */
  limitKeyPrefix?: string;
}

/**
 * What every call on a guest listener (bootstrap_listen, artifact_listen) passes before anything
 * else happens: the source must be in agent_subnet, and neither the source nor the token may exceed
 * the rate limit.
 */
export class GuestGuard {
  private readonly subnet: SubnetGuard;
  private readonly bySource: RateLimiter;
  private readonly byToken: RateLimiter;
  private readonly localSocket: boolean;
  private readonly limitKeys: string;

  constructor(options: GuestGuardOptions) {
    this.localSocket = options.localSocket === true;
    const prefix = options.limitKeyPrefix ?? "artifact";
    this.limitKeys = `${prefix}_rate_limit_qps / ${prefix}_rate_limit_burst`;
    const cidrs =
      typeof options.agentSubnet === "string"
        ? options.agentSubnet
            .split(",")
            .map((s) => s.trim())
            .filter(Boolean)
        : options.agentSubnet;
    this.subnet = new SubnetGuard(cidrs);
    const limits = { qps: options.qps, burst: options.burst, ...(options.now && { now: options.now }) };
    this.bySource = new RateLimiter(limits);
    this.byToken = new RateLimiter(limits);
  }

  checkSource(source: string | undefined): void {
    if (this.localSocket && source === undefined) return;
    if (!this.subnet.allows(source)) {
      throw new PermissionDeniedError({
        message: "source address is outside agent_subnet",
        what: "source",
        value: source ?? "unknown",
        hint: `guest calls are accepted only from ${this.subnet.cidrs.join(", ")}; check agent_subnet in the config`,
      });
    }
    limited(this.bySource.take(source ?? ""), "source address", source ?? "unknown", this.limitKeys);
  }

  checkToken(token: string): void {
    // Keyed by digest: the limiter's map should not be one more place holding live tokens.
    const key = createHash("sha256").update(token).digest("hex");
    limited(this.byToken.take(key), "token", "(redacted)", this.limitKeys);
  }
}

function limited(decision: ReturnType<RateLimiter["take"]>, what: string, value: string, keys: string): void {
  if (decision.allowed) return;
  throw new ResourceExhaustedError({
    message: `too many requests for this ${what}`,
    what,
    value,
    hint: `retry after ${decision.retryAfterSeconds} s (${keys})`,
    retryAfterSeconds: decision.retryAfterSeconds,
  });
}
