import { applyProfileDefaults, describeProfileDefaults } from "@agentlab/control/profiles/profile-defaults";
import { type Profile, profileSchema } from "@agentlab/control/profiles/profile-schema";
import { describe, expect, it } from "vitest";

function profile(behavior: Record<string, unknown>): Profile {
  return profileSchema.parse({ name: "p", backend: "proxmox", template_vmid: 9000, behavior });
}

const globals = { keepalive: false, ttlMinutes: 60 };

describe("applyProfileDefaults", () => {
  it("lets the request win over the profile", () => {
    const lifetime = applyProfileDefaults(
      { keepalive: false, ttlMinutes: 15 },
      profile({ keepalive_default: true, ttl_minutes_default: 480 }),
      globals,
    );
    expect(lifetime).toEqual({
      keepalive: { value: false, source: "request" },
      ttlMinutes: { value: 15, source: "request" },
    });
  });

  it("falls back to the profile, then to the global defaults", () => {
    expect(applyProfileDefaults({}, profile({ ttl_minutes_default: 480 }), globals)).toEqual({
      keepalive: { value: false, source: "global" },
      ttlMinutes: { value: 480, source: "profile" },
    });
    expect(applyProfileDefaults({ keepalive: undefined }, profile({ keepalive_default: true }), globals)).toEqual({
      keepalive: { value: true, source: "profile" },
      ttlMinutes: { value: 60, source: "global" },
    });
  });

  it("treats a TTL of 0 or less as no TTL at every level", () => {
    expect(applyProfileDefaults({ ttlMinutes: 0 }, profile({ ttl_minutes_default: 30 }), globals).ttlMinutes).toEqual({
      value: null,
      source: "request",
    });
    expect(applyProfileDefaults({}, profile({ ttl_minutes_default: -1 }), globals).ttlMinutes).toEqual({
      value: null,
      source: "profile",
    });
    expect(applyProfileDefaults({}, profile({})).ttlMinutes).toEqual({ value: null, source: "global" });
  });
});

describe("describeProfileDefaults", () => {
  it("says what an empty request gets, and the per-profile cap", () => {
    expect(describeProfileDefaults(profile({ keepalive_default: true, max_active: 3 }), globals)).toEqual({
      keepalive: { value: true, source: "profile" },
      ttlMinutes: { value: 60, source: "global" },
      maxActive: 3,
    });
  });
});
