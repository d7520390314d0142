import {
  ArtifactRegistryService,
  ArtifactSchema,
  type AuthorizeUploadResponse,
  AuthorizeUploadResponseSchema,
  type StoredArtifact,
  StoredArtifactSchema,
} from "@agentlab/api";
import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";

/** How the test registry treats a token, as control would. */
export type TokenState = "valid" | "expired" | "finished" | "other-job";

export interface TestToken {
  jobId: string;
  vmid: number;
  state: TokenState;
}

/**
 * An in-memory ArtifactRegistryService standing in for control: tokens and rows in maps, failures on
 * demand. Its refusals use the codes the contract names (UNAUTHENTICATED, PERMISSION_DENIED).
 */
export class TestRegistry {
  readonly tokens = new Map<string, TestToken>();
  readonly rows: StoredArtifact[] = [];
  authorizeCalls = 0;
  recordCalls = 0;
  /** max_bytes control answers with; 0 = let the artifacts service use its own cap. */
  maxBytes = 0n;
  /** When set, the next RecordArtifact calls fail with it. */
  failRecord: ConnectError | undefined;
  private nextId = 1n;

  addToken(token: string, jobId: string, state: TokenState = "valid", vmid = 1000): void {
    this.tokens.set(token, { jobId, vmid, state });
  }

  rowsOf(jobId: string): StoredArtifact[] {
    return this.rows.filter((row) => row.artifact?.jobId === jobId);
  }

  /** A row as a migration from the original would leave it: no stored path, file at <job>/<path>. */
  addMigratedRow(jobId: string, path: string, sizeBytes: number, sha256: string): StoredArtifact {
    const row = create(StoredArtifactSchema, {
      artifact: create(ArtifactSchema, {
        id: this.nextId++,
        jobId,
        vmid: 1000,
        name: path.slice(path.lastIndexOf("/") + 1),
        path,
        sizeBytes: BigInt(sizeBytes),
        sha256,
        mime: "application/octet-stream",
        createdAt: timestampNow(),
      }),
      storedPath: "",
    });
    this.rows.push(row);
    return row;
  }

  readonly routes = (router: ConnectRouter): void => {
    router.service(ArtifactRegistryService, {
      authorizeUpload: (req): AuthorizeUploadResponse => {
        this.authorizeCalls++;
        const grant = this.check(req.token);
        return create(AuthorizeUploadResponseSchema, { jobId: grant.jobId, vmid: grant.vmid, maxBytes: this.maxBytes });
      },
      recordArtifact: (req) => {
        this.recordCalls++;
        if (this.failRecord) throw this.failRecord;
        const grant = this.check(req.token);
        const artifact = create(ArtifactSchema, {
          id: this.nextId++,
          jobId: grant.jobId,
          vmid: grant.vmid,
          name: req.path.slice(req.path.lastIndexOf("/") + 1),
          path: req.path,
          sizeBytes: req.sizeBytes,
          sha256: req.sha256,
          mime: req.mime,
          createdAt: timestampNow(),
        });
        this.rows.push(create(StoredArtifactSchema, { artifact, storedPath: req.storedPath }));
        return { artifact };
      },
      listArtifacts: (req) => ({ artifacts: this.rowsOf(req.jobId) }),
    });
  };

  private check(token: string): TestToken {
    const grant = this.tokens.get(token);
    if (!grant) throw new ConnectError("unknown upload token", Code.Unauthenticated);
    if (grant.state === "expired") throw new ConnectError("upload token expired", Code.Unauthenticated);
    if (grant.state === "finished") {
      throw new ConnectError(`job ${grant.jobId} finished; uploads are closed`, Code.PermissionDenied);
    }
    if (grant.state === "other-job") {
      throw new ConnectError("upload token is bound to another job's sandbox", Code.PermissionDenied);
    }
    return grant;
  }
}
