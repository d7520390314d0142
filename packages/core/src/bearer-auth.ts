/**
 * Bearer-token authentication for TCP listeners (DESIGN §2): `control_listen` needs
 * `control_auth_token`, peer services on TCP need `internal_token`. Both sides are hashed before a
 * constant-time comparison, so neither content nor length of a guess leaks through timing.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { Interceptor } from "@connectrpc/connect";
import { UnauthenticatedError } from "./errors.js";

const digest = (text: string) => createHash("sha256").update(text, "utf8").digest();

export function tokensMatch(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected));
}

/** The token of an `Authorization: Bearer <token>` header, if there is one. */
export function bearerToken(header: string | null | undefined): string | undefined {
  return /^Bearer\s+(\S+)$/i.exec((header ?? "").trim())?.[1];
}

/** Requires `authorization: Bearer <expected>` on every call; `what` names the config key for the hint. */
export function createBearerAuthInterceptor(expected: string, what: string): Interceptor {
  if (expected === "") throw new Error(`${what} must not be empty`);
  return (next) => async (req) => {
    const token = bearerToken(req.header.get("authorization"));
    if (!token || !tokensMatch(token, expected)) {
      throw new UnauthenticatedError({
        message: `missing or wrong bearer token (${what})`,
        hint: `send "authorization: Bearer <${what}>" from the config`,
      });
    }
    return next(req);
  };
}
