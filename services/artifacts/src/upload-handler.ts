import {
  type UploadArtifactRequest,
  type UploadArtifactResponse,
  UploadArtifactResponseSchema,
  type UploadHeader,
  type UploadTrailer,
} from "@agentlab/api";
import { InvalidArgumentError } from "@agentlab/core/errors";
import type { GuestGuard } from "@agentlab/core/guest-guard";
import { remoteAddressKey } from "@agentlab/core/listener";
import { create } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { storeUpload } from "./artifact-uploader.js";
import type { ArtifactsDeps } from "./artifacts-deps.js";

export type UploadArtifactHandler = (
  requests: AsyncIterable<UploadArtifactRequest>,
  context: HandlerContext,
) => Promise<UploadArtifactResponse>;

/**
 * ArtifactService.UploadArtifact: header, chunks, trailer. With a guard (the guest listener) the
 * source and rate limits are checked before the first message is even read.
 */
export function createUploadHandler(deps: ArtifactsDeps, guard?: GuestGuard): UploadArtifactHandler {
  return async (requests, context) => {
    const source = context.values.get(remoteAddressKey);
    guard?.checkSource(source);
    const messages = requests[Symbol.asyncIterator]();
    const header = await readHeader(messages);
    guard?.checkToken(header.token);
    let trailer: UploadTrailer | undefined;
    const result = await storeUpload(deps, {
      token: header.token,
      path: header.path,
      mime: header.mime,
      sourceAddress: source ?? "unix",
      body: chunksUntilTrailer(messages, (t) => {
        trailer = t;
      }),
      expected: () => {
        // chunksUntilTrailer only finishes after a trailer, so this holds; checked for the compiler.
        if (!trailer) throw missingTrailer();
        return { sizeBytes: trailer.sizeBytes, sha256: trailer.sha256 };
      },
      signal: context.signal,
    });
    return create(UploadArtifactResponseSchema, { artifact: result.artifact });
  };
}

async function readHeader(messages: AsyncIterator<UploadArtifactRequest>): Promise<UploadHeader> {
  const first = await messages.next();
  if (first.done || first.value.part.case !== "header") {
    throw new InvalidArgumentError({
      message: "the first message of an upload must be the header",
      what: "first message",
      value: first.done ? "end of stream" : (first.value.part.case ?? "empty"),
      hint: "send {header: {token, path, mime}} first, then chunks, then {trailer: {size_bytes, sha256}}",
    });
  }
  return first.value.part.value;
}

async function* chunksUntilTrailer(
  messages: AsyncIterator<UploadArtifactRequest>,
  onTrailer: (trailer: UploadTrailer) => void,
): AsyncGenerator<Uint8Array> {
  for (;;) {
    const next = await messages.next();
    if (next.done) throw missingTrailer();
    const part = next.value.part;
    if (part.case === "chunk") {
      yield part.value;
      continue;
    }
    if (part.case === "trailer") {
      if (part.value.sha256 === "") {
        throw new InvalidArgumentError({
          message: "the upload trailer carries no sha256",
          what: "trailer.sha256",
          value: "",
          hint: "send the lower-case hex SHA-256 of the content in the trailer",
        });
      }
      const after = await messages.next();
      if (!after.done) {
        throw new InvalidArgumentError({
          message: "the trailer must be the last message of an upload",
          what: "message after trailer",
          value: after.value.part.case ?? "empty",
          hint: "end the stream right after the trailer",
        });
      }
      onTrailer(part.value);
      return;
    }
    throw new InvalidArgumentError({
      message: "unexpected message in an upload",
      what: "message",
      value: part.case ?? "empty",
      hint: "only one header, then chunks, then one trailer",
    });
  }
}

function missingTrailer(): InvalidArgumentError {
  return new InvalidArgumentError({
    message: "the upload ended without a trailer; nothing was stored",
    what: "last message",
    value: "end of stream",
    hint: "finish every upload with {trailer: {size_bytes, sha256}} so the server can verify the content",
  });
}
