/** What replaces a secret in everything the guest writes or sends. */
export const REDACTED = "[REDACTED]";

/** Shorter values are not redacted: hiding "yes" or "1234" would mangle ordinary output. */
export const MIN_SECRET_LENGTH = 6;

/** Replaces known secret values in text. */
export class SecretRedactor {
  private readonly secrets: string[];

  constructor(values: Iterable<string | undefined>) {
    const unique = new Set<string>();
    for (const value of values) {
      if (typeof value !== "string") continue;
      const trimmed = value.trim();
      // A multi-line secret (an SSH key) is also hidden line by line, since output re-wraps lines.
      for (const candidate of [value, trimmed, ...trimmed.split(/\r?\n/).map((l) => l.trim())]) {
        if (candidate.length >= MIN_SECRET_LENGTH) unique.add(candidate);
      }
    }
    // Longest first, so that a secret containing another is hidden whole.
    this.secrets = [...unique].sort((a, b) => b.length - a.length);
  }

  /** Number of distinct values hidden (for the runner's own log). */
  get size(): number {
    return this.secrets.length;
  }

  redact(text: string): string {
    let result = text;
    for (const secret of this.secrets) {
      if (result.includes(secret)) result = result.split(secret).join(REDACTED);
    }
    return result;
  }

  /** A redactor for one output stream, whose secrets may be split across chunks. */
  stream(): StreamRedactor {
    return new StreamRedactor(this);
  }

  /** Length of the longest suffix of `text` that is a proper prefix of some secret. */
  pendingPrefixLength(text: string): number {
    let longest = 0;
    for (const secret of this.secrets) {
      const max = Math.min(secret.length - 1, text.length);
      for (let k = max; k > longest; k--) {
        if (text.endsWith(secret.slice(0, k))) {
          longest = k;
          break;
        }
      }
    }
    return longest;
  }
}

/**
 * Redacts a stream of chunks. A chunk ending in what could be the start of a secret keeps that tail
 * back until the next chunk shows whether it is one; everything else passes through at once, so
 * ordinary output is not delayed.
 */
export class StreamRedactor {
  private held = "";

  constructor(private readonly redactor: SecretRedactor) {}

  /** Redacted text that is safe to emit now (possibly empty). */
  push(chunk: string): string {
    const text = this.redactor.redact(this.held + chunk);
    const keep = this.redactor.pendingPrefixLength(text);
    this.held = text.slice(text.length - keep);
    return text.slice(0, text.length - keep);
  }

  /** The rest, at the end of the stream. */
  end(): string {
    const rest = this.redactor.redact(this.held);
    this.held = "";
    return rest;
  }
}
