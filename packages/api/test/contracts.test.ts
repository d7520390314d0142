// A third-party client generated at run time from proto/ (grpc-js + proto-loader, as other tools
// would do it) must find every service of DESIGN §1 with its RPCs. This guards the fixed names.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { describe, expect, it } from "vitest";

const protoRoot = join(import.meta.dirname, "../../../proto");

function protoFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return protoFiles(path);
    return name.endsWith(".proto") ? [path.slice(protoRoot.length + 1)] : [];
  });
}

const expected: Record<string, string[]> = {
  "agentlab.control.v1.SandboxService": [
    "CreateSandbox",
    "GetSandbox",
    "ListSandboxes",
    "DestroySandbox",
    "StartSandbox",
    "StopSandbox",
    "RenewLease",
    "PruneSandboxes",
  ],
  "agentlab.control.v1.JobService": ["RunJob", "GetJob", "ListJobs", "CancelJob", "WatchJob"],
  "agentlab.control.v1.WorkspaceService": [
    "CreateWorkspace",
    "GetWorkspace",
    "ListWorkspaces",
    "AttachWorkspace",
    "DetachWorkspace",
    "DeleteWorkspace",
  ],
  "agentlab.control.v1.ProfileService": ["ListProfiles", "GetProfile", "ReloadProfiles"],
  "agentlab.control.v1.EventService": ["ListEvents", "WatchEvents"],
  "agentlab.control.v1.SystemService": ["GetStatus"],
  "agentlab.control.v1.ArtifactRegistryService": ["AuthorizeUpload", "RecordArtifact", "ListArtifacts"],
  "agentlab.guest.v1.GuestService": ["FetchBootstrap", "ReportStatus", "AppendLogs"],
  "agentlab.runner.v1.RunnerService": [
    "GetInfo",
    "ProvisionVm",
    "StartVm",
    "StopVm",
    "DestroyVm",
    "GetVmStatus",
    "WaitGuestIp",
    "ListVms",
    "CreateSnapshot",
    "RollbackSnapshot",
    "DeleteSnapshot",
    "CreateVolume",
    "AttachVolume",
    "DetachVolume",
    "DeleteVolume",
    "ValidateTemplate",
  ],
  "agentlab.artifacts.v1.ArtifactService": ["UploadArtifact", "DownloadArtifact", "DeleteArtifacts"],
  "grpc.health.v1.Health": ["Check", "Watch"],
};

describe("contracts loaded at run time by @grpc/proto-loader", () => {
  const definition = protoLoader.loadSync(protoFiles(protoRoot), {
    includeDirs: [protoRoot],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const loaded = grpc.loadPackageDefinition(definition);

  for (const [service, methods] of Object.entries(expected)) {
    it(`finds ${service} with ${methods.length} RPCs`, () => {
      const ctor = service
        .split(".")
        .reduce<unknown>((node, part) => (node as Record<string, unknown>)?.[part], loaded);
      expect(typeof ctor, `${service} missing`).toBe("function");
      const serviceDef = (ctor as { service: Record<string, { path: string }> }).service;
      for (const method of methods) {
        expect(serviceDef[method]?.path, `${service}/${method} missing`).toBe(`/${service}/${method}`);
      }
    });
  }

  it("streams where DESIGN §1 says so", () => {
    const svc = (name: string) =>
      (definition[name] as Record<string, { requestStream: boolean; responseStream: boolean }>) ?? {};
    expect(svc("agentlab.control.v1.JobService").WatchJob?.responseStream).toBe(true);
    expect(svc("agentlab.control.v1.EventService").WatchEvents?.responseStream).toBe(true);
    expect(svc("agentlab.artifacts.v1.ArtifactService").UploadArtifact?.requestStream).toBe(true);
    expect(svc("agentlab.artifacts.v1.ArtifactService").DownloadArtifact?.responseStream).toBe(true);
  });
});
