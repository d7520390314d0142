import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import {
  ArtifactSchema,
  enumDisplayName,
  fromDisplayJson,
  ListSandboxesResponseSchema,
  SandboxSchema,
  SandboxState,
  SandboxStateSchema,
  toDisplayJson,
} from "../src/index.js";

describe("display JSON", () => {
  it("uses proto field names, unprefixed enums, numeric VMIDs and RFC 3339 timestamps", () => {
    const sandbox = create(SandboxSchema, {
      vmid: 1001,
      name: "test-upgrade",
      profile: "yolo-ephemeral",
      state: SandboxState.RUNNING,
      leaseExpiresAt: timestampFromDate(new Date("2026-01-02T03:04:05.678Z")),
    });
    const json = toDisplayJson(SandboxSchema, sandbox);
    expect(json).toMatchObject({
      vmid: 1001,
      name: "test-upgrade",
      profile: "yolo-ephemeral",
      state: "RUNNING",
      lease_expires_at: "2026-01-02T03:04:05.678Z",
      workspace_id: "",
      keepalive: false,
    });
  });

  it("prints 64-bit integers as numbers", () => {
    const json = toDisplayJson(ArtifactSchema, create(ArtifactSchema, { id: 7n, sizeBytes: 300n * 1024n * 1024n }));
    expect(json.id).toBe(7);
    expect(json.size_bytes).toBe(314572800);
  });

  it("walks into lists of messages", () => {
    const list = create(ListSandboxesResponseSchema, {
      sandboxes: [create(SandboxSchema, { vmid: 1, state: SandboxState.DESTROYED })],
    });
    const json = toDisplayJson(ListSandboxesResponseSchema, list) as { sandboxes: Array<{ state: string }> };
    expect(json.sandboxes[0]?.state).toBe("DESTROYED");
  });

  it("round-trips through fromDisplayJson, accepting both enum spellings", () => {
    const original = create(SandboxSchema, { vmid: 42, name: "a", state: SandboxState.BOOTING });
    const back = fromDisplayJson(SandboxSchema, toDisplayJson(SandboxSchema, original));
    expect(back.state).toBe(SandboxState.BOOTING);
    expect(fromDisplayJson(SandboxSchema, { state: "SANDBOX_STATE_READY" }).state).toBe(SandboxState.READY);
    expect(() => fromDisplayJson(SandboxSchema, { no_such_field: 1 })).toThrow();
  });

  it("names enum values for humans", () => {
    expect(enumDisplayName(SandboxStateSchema, SandboxState.STOPPED)).toBe("STOPPED");
  });
});
