/**
 * One timestamp format everywhere in the database: `YYYY-MM-DDTHH:MM:SS.sssZ` (UTC, milliseconds,
 * fixed width). Fixed width is what makes `ORDER BY created_at` and `WHERE ts > ?` on TEXT columns
 * agree with time order; the original stored Go's RFC3339Nano, whose variable width broke that.
 */

export type Clock = () => Date;

const FIXED_WIDTH = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

// RFC 3339 as the original wrote it (Go's RFC3339Nano trims trailing zeros of the fraction, and
// drops the fraction entirely when it is zero) plus any explicit offset.
const RFC3339 = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|z|[+-]\d{2}:\d{2})$/;

/** Formats a Date in the database's fixed-width format. */
export function formatTimestamp(date: Date): string {
  const ms = date.getTime();
  if (!Number.isFinite(ms)) {
    throw new RangeError(`formatTimestamp: invalid Date (${String(date)}); pass a valid Date from the clock`);
  }
  // toISOString is already fixed-width UTC with milliseconds for years 0000–9999.
  return date.toISOString();
}

/** The current time from an injected clock, formatted for storage. */
export function nowTimestamp(clock: Clock): string {
  return formatTimestamp(clock());
}

/** True when `text` is already in the fixed-width storage format. */
export function isFixedWidthTimestamp(text: string): boolean {
  return FIXED_WIDTH.test(text);
}

/**
 * Rewrites any RFC 3339 timestamp to the fixed-width storage format: the fraction is truncated
 * (never rounded, so a value never moves into the next millisecond) and offsets are converted to
 * UTC. Returns `undefined` when `text` is not RFC 3339.
 */
export function normaliseTimestampText(text: string): string | undefined {
  if (FIXED_WIDTH.test(text)) return text;
  const match = RFC3339.exec(text);
  if (!match) return undefined;
  const [, day, time, fraction = "", zone = "Z"] = match;
  const millis = (fraction + "000").slice(0, 3);
  if (zone === "Z" || zone === "z" || zone === "+00:00" || zone === "-00:00") {
    // Fast path (nearly every row the original wrote): pure string work, no Date.
    return `${day}T${time}.${millis}Z`;
  }
  const parsed = new Date(`${day}T${time}.${millis}${zone}`);
  if (!Number.isFinite(parsed.getTime())) return undefined;
  return parsed.toISOString();
}

/**
 * Parses a stored timestamp (fixed-width or any RFC 3339 text the original wrote) into a Date.
 * Throws with the offending value when the text is not a timestamp.
 */
export function parseTimestamp(text: string): Date {
  const normalised = normaliseTimestampText(text);
  const date = normalised === undefined ? undefined : new Date(normalised);
  if (date === undefined || !Number.isFinite(date.getTime())) {
    throw new RangeError(
      `parseTimestamp: ${JSON.stringify(text)} is not an RFC 3339 timestamp; expected e.g. 2025-01-15T10:00:00.123Z`,
    );
  }
  return date;
}
