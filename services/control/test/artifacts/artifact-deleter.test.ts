import { ArtifactService, type DeleteArtifactsRequest } from "@agentlab/api";
import { createClient, createRouterTransport } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { createArtifactDeleter } from "../../src/artifacts/artifact-deleter.js";

describe("createArtifactDeleter", () => {
  it("sends ids with their stored paths and returns the ids the service deleted", async () => {
    const seen: DeleteArtifactsRequest[] = [];
    const transport = createRouterTransport((router) =>
      router.service(ArtifactService, {
        deleteArtifacts(req) {
          seen.push(req);
          return { deletedIds: req.artifactIds.slice(0, 1), freedBytes: 10n };
        },
      }),
    );
    const deleter = createArtifactDeleter(createClient(ArtifactService, transport));
    const result = await deleter("job_a", [1n, 2n], ["job_a/a.1", "job_a/b.2"]);
    expect(result).toEqual({ deletedIds: [1n] });
    expect(seen.map((r) => [r.jobId, r.artifactIds, r.storedPaths])).toEqual([
      ["job_a", [1n, 2n], ["job_a/a.1", "job_a/b.2"]],
    ]);
  });
});
