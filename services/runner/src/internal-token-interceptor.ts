import { createHash, timingSafeEqual } from "node:crypto";
import { UnauthenticatedError } from "@agentlab/core";
import type { Interceptor } from "@connectrpc/connect";

/**
 * Peer services on TCP present `authorization: Bearer <internal_token>` (DESIGN §2). Both sides are
 * hashed first so the comparison takes the same time whatever the length of the guess.
 */
export function createInternalTokenInterceptor(internalToken: string): Interceptor {
  if (internalToken === "") throw new Error("internal token must not be empty");
  const expected = digest(internalToken);
  return (next) => async (req) => {
    const header = req.header.get("authorization") ?? "";
    const match = /^Bearer (.+)$/i.exec(header.trim());
    if (!match?.[1] || !timingSafeEqual(digest(match[1]), expected)) {
      throw new UnauthenticatedError({
        message: "missing or wrong internal token",
        hint: "send authorization: Bearer <internal_token> from the config",
      });
    }
    return next(req);
  };
}

function digest(value: string): Buffer {
  return createHash("sha256").update(value, "utf8").digest();
}
