/**
 * Tokens are random, handed out once in plaintext, and stored only as their SHA-256 (hex): a copy of
 * the database reveals no usable token. Comparisons go through the hash lookup, never string compares
 * of secrets.
 */
import { createHash, randomBytes } from "node:crypto";

/** 32 random bytes as 64 hex characters. */
export function newToken(random: (size: number) => Buffer = randomBytes): string {
  return random(32).toString("hex");
}

export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}
