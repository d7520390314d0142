import { createHash } from "node:crypto";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import {
  ArtifactSchema,
  ArtifactService,
  type FetchBootstrapRequest,
  FetchBootstrapResponseSchema,
  GuestService,
  type LogEntry,
  type ReportStatusRequest,
} from "@agentlab/api";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";

export interface ReceivedUpload {
  token: string;
  path: string;
  mime: string;
  data: Buffer;
  claimedSha256: string;
  claimedSize: bigint;
}

export interface FakeControlOptions {
  /** The payload FetchBootstrap returns; undefined answers NOT_FOUND ("no job assigned"). */
  payload?: MessageInitShape<typeof FetchBootstrapResponseSchema>;
  /** This many FetchBootstrap calls fail with UNAVAILABLE first. */
  fetchFailures?: number;
  /** Replies carry cancel_requested once a received log line contains this text. */
  cancelWhenLogIncludes?: string;
  /** AppendLogs' stored_seq before anything arrives (a previous run's entries). */
  initialStoredSeq?: bigint;
  /** Listen on this Unix socket instead of 127.0.0.1:0. */
  socketPath?: string;
}

/**
 * A real Connect server with test implementations of GuestService and ArtifactService, recording
 * everything the guest sends. Uploads are verified like the real artifacts service does.
 */
export class FakeControl {
  readonly fetches: FetchBootstrapRequest[] = [];
  readonly reports: ReportStatusRequest[] = [];
  readonly logs: LogEntry[] = [];
  readonly appendCalls: number[] = [];
  readonly uploads: ReceivedUpload[] = [];
  cancel = false;
  storedSeq: bigint;
  private fetchFailuresLeft: number;
  private readonly server: http2.Http2Server;
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  url = "";

  constructor(private readonly options: FakeControlOptions) {
    this.storedSeq = options.initialStoredSeq ?? 0n;
    this.fetchFailuresLeft = options.fetchFailures ?? 0;
    this.server = http2.createServer(connectNodeAdapter({ routes: (router) => this.routes(router) }));
    this.server.on("session", (session) => {
      this.sessions.add(session);
      session.once("close", () => this.sessions.delete(session));
    });
  }

  async start(): Promise<this> {
    const socketPath = this.options.socketPath;
    await new Promise<void>((resolve) => {
      if (socketPath) this.server.listen(socketPath, resolve);
      else this.server.listen(0, "127.0.0.1", resolve);
    });
    this.url = socketPath ? `unix://${socketPath}` : `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    for (const session of this.sessions) session.close();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Everything text the guest sent to control, for secret checks. */
  receivedText(): string {
    return [
      ...this.logs.map((l) => l.data),
      // The report token is legitimately in every report's token field; everything else must be clean.
      ...this.reports.map((r) =>
        [r.message, r.startCommit, r.finalCommit, ...r.artifacts.map((a) => a.path)].join(" "),
      ),
      ...this.uploads.map((u) => u.data.toString("latin1")),
    ].join("\n");
  }

  finalReport(): ReportStatusRequest | undefined {
    return this.reports.filter((r) => r.status !== 1).at(-1);
  }

  private routes(router: ConnectRouter): void {
    router.service(GuestService, {
      fetchBootstrap: (request) => {
        this.fetches.push(request);
        if (this.fetchFailuresLeft > 0) {
          this.fetchFailuresLeft--;
          throw new ConnectError("control is starting", Code.Unavailable);
        }
        if (!this.options.payload) throw new ConnectError("no job assigned", Code.NotFound);
        return create(FetchBootstrapResponseSchema, this.options.payload);
      },
      reportStatus: (request) => {
        this.reports.push(request);
        return { cancelRequested: this.cancel, jobStatus: "RUNNING" };
      },
      appendLogs: (request) => {
        this.appendCalls.push(request.entries.length);
        for (const entry of request.entries) {
          if (entry.seq <= this.storedSeq) continue; // repeats are ignored, as control does
          this.logs.push(entry);
          this.storedSeq = entry.seq;
          const marker = this.options.cancelWhenLogIncludes;
          if (marker && entry.data.includes(marker)) this.cancel = true;
        }
        return { cancelRequested: this.cancel, storedSeq: this.storedSeq };
      },
    });
    router.service(ArtifactService, {
      uploadArtifact: async (requests) => {
        let header: { token: string; path: string; mime: string } | undefined;
        const chunks: Buffer[] = [];
        let trailer: { sizeBytes: bigint; sha256: string } | undefined;
        for await (const message of requests) {
          if (message.part.case === "header") header = message.part.value;
          else if (message.part.case === "chunk") {
            if (message.part.value.length > 1024 * 1024) throw new ConnectError("chunk too big", Code.InvalidArgument);
            chunks.push(Buffer.from(message.part.value));
          } else if (message.part.case === "trailer") trailer = message.part.value;
        }
        if (!header || !trailer) throw new ConnectError("header and trailer required", Code.InvalidArgument);
        const data = Buffer.concat(chunks);
        const sha256 = createHash("sha256").update(data).digest("hex");
        if (sha256 !== trailer.sha256 || BigInt(data.length) !== trailer.sizeBytes) {
          throw new ConnectError("size or sha256 mismatch", Code.InvalidArgument);
        }
        this.uploads.push({
          token: header.token,
          path: header.path,
          mime: header.mime,
          data,
          claimedSha256: trailer.sha256,
          claimedSize: trailer.sizeBytes,
        });
        return {
          artifact: create(ArtifactSchema, {
            id: BigInt(this.uploads.length),
            name: header.path.split("/").at(-1) ?? header.path,
            path: header.path,
            sizeBytes: BigInt(data.length),
            sha256,
            mime: header.mime,
          }),
        };
      },
    });
  }
}

export function socketIn(dir: string, name: string): string {
  return join(dir, name);
}
