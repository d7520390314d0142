import { describe, expect, it } from "vitest";
import { heartbeatIntervalSeconds } from "../../src/guest/bootstrap-payload.js";

describe("the guest's heartbeat interval", () => {
  it("is a third of guest_heartbeat_timeout, so two heartbeats may be lost before the guest counts as gone", () => {
    expect(heartbeatIntervalSeconds(30_000)).toBe(10);
    expect(heartbeatIntervalSeconds(3_000)).toBe(1);
  });

  it("is at most 15 s, so a quiet guest hears of a cancel that soon even with the default 5m timeout", () => {
    expect(heartbeatIntervalSeconds(5 * 60_000)).toBe(15);
    expect(heartbeatIntervalSeconds(60 * 60_000)).toBe(15);
  });

  it("is at least 1 s", () => {
    expect(heartbeatIntervalSeconds(1_000)).toBe(1);
  });
});
