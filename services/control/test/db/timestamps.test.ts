import { describe, expect, it } from "vitest";
import {
  formatTimestamp,
  isFixedWidthTimestamp,
  normaliseTimestampText,
  nowTimestamp,
  parseTimestamp,
} from "../../src/db/timestamps.js";

describe("timestamps", () => {
  it("formats fixed-width UTC with milliseconds", () => {
    expect(formatTimestamp(new Date(Date.UTC(2025, 0, 15, 10, 0, 0, 7)))).toBe("2025-01-15T10:00:00.007Z");
    expect(nowTimestamp(() => new Date("2025-01-15T10:00:00Z"))).toBe("2025-01-15T10:00:00.000Z");
  });

  it("normalises the original's RFC3339Nano by truncation, converting offsets to UTC", () => {
    expect(normaliseTimestampText("2025-01-15T10:00:00Z")).toBe("2025-01-15T10:00:00.000Z");
    expect(normaliseTimestampText("2025-01-15T10:00:00.1Z")).toBe("2025-01-15T10:00:00.100Z");
    expect(normaliseTimestampText("2025-01-15T10:00:00.123456789Z")).toBe("2025-01-15T10:00:00.123Z");
    expect(normaliseTimestampText("2025-01-15T10:00:00.999999999Z")).toBe("2025-01-15T10:00:00.999Z");
    expect(normaliseTimestampText("2025-01-15T12:00:00.987654321+02:00")).toBe("2025-01-15T10:00:00.987Z");
    expect(normaliseTimestampText("2025-01-01T00:30:00-01:00")).toBe("2025-01-01T01:30:00.000Z");
    expect(normaliseTimestampText("2025-01-15T10:00:00.123Z")).toBe("2025-01-15T10:00:00.123Z");
    expect(normaliseTimestampText("yesterday")).toBeUndefined();
  });

  it("text order of normalised values is time order", () => {
    const raw = ["2025-01-15T10:00:00Z", "2025-01-15T10:00:00.1Z", "2025-01-15T10:00:00.9Z", "2025-01-15T10:00:01Z"];
    expect([...raw].sort()).not.toEqual(raw); // the original's bug
    const fixed = raw.map((t) => normaliseTimestampText(t)!);
    expect([...fixed].sort()).toEqual(fixed);
    expect(fixed.every(isFixedWidthTimestamp)).toBe(true);
  });

  it("parses stored text and names a bad value", () => {
    expect(parseTimestamp("2025-01-15T10:00:00.5Z").toISOString()).toBe("2025-01-15T10:00:00.500Z");
    expect(() => parseTimestamp("15/01/2025")).toThrow(/"15\/01\/2025" is not an RFC 3339 timestamp/);
    expect(() => formatTimestamp(new Date(Number.NaN))).toThrow(/invalid Date/);
  });
});
