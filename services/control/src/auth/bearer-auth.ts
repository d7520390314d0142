/**
 * Authentication for TCP listeners (DESIGN §2): control_listen needs `control_auth_token`, peer
 * services on TCP need `internal_token`. Tokens are compared in constant time (on their SHA-256, so
 * lengths leak nothing either).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { UnauthenticatedError } from "@agentlab/core";
import type { Interceptor } from "@connectrpc/connect";

const digest = (text: string) => createHash("sha256").update(text, "utf8").digest();

export function tokensMatch(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected));
}

export function bearerToken(header: string | null): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? "");
  return match?.[1];
}

/** Interceptor requiring `authorization: Bearer <token>` on every call. */
export function createBearerAuthInterceptor(expected: string, what: string): Interceptor {
  return (next) => async (req) => {
    const token = bearerToken(req.header.get("authorization"));
    if (!token || !tokensMatch(token, expected)) {
      throw new UnauthenticatedError({
        message: `missing or wrong bearer token for ${what}`,
        hint: `send "authorization: Bearer <${what}>"`,
      });
    }
    return next(req);
  };
}
