/**
 * `agentlab job artifacts <job>` lists a job's artifacts (JobService.ListJobArtifacts on control);
 * `agentlab job artifacts download <job>` streams one from the artifacts service's Unix socket
 * (ArtifactService.DownloadArtifact) into a temp file beside the destination, checks size and
 * sha256 against the artifact the stream announced, and only then renames it into place — a
 * damaged or cut-off download never appears under the destination name.
 */

import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { open, rename, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { pipeline } from "node:stream/promises";
import {
  type Artifact,
  ArtifactSchema,
  ArtifactService,
  type DownloadArtifactRequest,
  toDisplayJson,
} from "@agentlab/api";
import { ConnectError, createClient } from "@connectrpc/connect";
import type { Command } from "commander";
import type { CliContext } from "../cli-context.js";
import { UsageError } from "../cli-errors.js";
import { parsePositiveInt } from "../cli-parsers.js";
import { action, callOptions } from "../command-action.js";
import { createArtifactsTransport } from "../control-clients.js";
import { formatBytes } from "../output/relative-time.js";
import { artifactTable } from "../views.js";

interface DownloadOptions {
  path?: string;
  name?: string;
  id?: string;
  out?: string;
}

function selectorOf(opts: DownloadOptions): DownloadArtifactRequest["selector"] {
  const given = [opts.path, opts.name, opts.id].filter((v) => v !== undefined);
  if (given.length > 1) throw new UsageError("choose the artifact with one of --path, --name or --id");
  if (opts.path !== undefined) return { case: "path", value: opts.path };
  if (opts.name !== undefined) return { case: "name", value: opts.name };
  if (opts.id !== undefined) return { case: "artifactId", value: BigInt(parsePositiveInt(opts.id, "artifact id")) };
  return { case: undefined };
}

/** --out names a directory (existing, or written with a trailing slash) or the file itself. */
async function destinationFor(out: string | undefined, artifactName: string): Promise<string> {
  if (out === undefined) return resolve(artifactName);
  if (out.endsWith("/")) return resolve(out, artifactName);
  const existing = await stat(out).catch(() => undefined);
  return existing?.isDirectory() ? resolve(out, artifactName) : resolve(out);
}

/** A socket error names the artifacts socket, not control's (describeError assumes control). */
function unreachable(err: unknown, endpoint: string): unknown {
  const connectError = err instanceof ConnectError ? err : undefined;
  if (connectError && /ENOENT|ECONNREFUSED|EACCES|ECONNRESET|EPIPE/.test(connectError.message)) {
    return new Error(
      `cannot reach the agentlab artifacts service at ${endpoint}: ${connectError.rawMessage}; set --artifacts-socket or AGENTLAB_ARTIFACTS_SOCKET to its socket`,
      { cause: err },
    );
  }
  return err;
}

interface Downloaded {
  artifact: Artifact;
  out: string;
}

async function download(ctx: CliContext, jobId: string, opts: DownloadOptions): Promise<Downloaded> {
  const selector = selectorOf(opts);
  const client = createClient(ArtifactService, createArtifactsTransport(ctx.artifactsEndpoint));
  const stream = client.downloadArtifact({ jobId, selector }, callOptions(ctx));
  let artifact: Artifact | undefined;
  let temp: string | undefined;
  let out: string | undefined;
  let file: Awaited<ReturnType<typeof open>> | undefined;
  try {
    const hash = createHash("sha256");
    let received = 0n;
    for await (const message of stream) {
      if (message.part.case === "artifact") {
        if (artifact) throw new Error("the artifacts service sent a second artifact header; retry the download");
        artifact = message.part.value;
        out = opts.out === "-" ? "-" : await destinationFor(opts.out, artifact.name);
        // Same directory as the destination, so the final rename cannot cross filesystems. For
        // stdout the content is held in a private temp file until it has been verified.
        const tempDir = out === "-" ? tmpdir() : dirname(out);
        temp = join(tempDir, `.${basename(out === "-" ? artifact.name : out)}.${randomBytes(6).toString("hex")}.part`);
        file = await open(temp, "wx", 0o644);
      } else if (message.part.case === "chunk") {
        if (!artifact || !file) throw new Error("the artifacts service sent content before the artifact header");
        received += BigInt(message.part.value.length);
        if (received > artifact.sizeBytes) break; // more than announced: fails the size check below
        hash.update(message.part.value);
        await file.write(message.part.value);
      }
    }
    if (!artifact || !file || !temp || !out) {
      throw new Error(`the artifacts service sent no artifact for job ${jobId}; retry the download`);
    }
    const sha256 = hash.digest("hex");
    if (received !== artifact.sizeBytes || sha256 !== artifact.sha256) {
      throw new Error(
        `download of ${artifact.path} failed verification: expected ${artifact.sizeBytes} bytes with sha256 ${artifact.sha256}, received ${received}${received > artifact.sizeBytes ? "+" : ""} bytes with sha256 ${sha256}; nothing was written, retry the download`,
      );
    }
    await file.sync();
    await file.close();
    file = undefined;
    if (out === "-") {
      // Only verified bytes ever reach stdout.
      await pipeline(createReadStream(temp), process.stdout, { end: false });
      return { artifact, out };
    }
    await rename(temp, out);
    temp = undefined;
    return { artifact, out };
  } catch (err) {
    throw unreachable(err, ctx.artifactsEndpoint);
  } finally {
    await file?.close().catch(() => undefined);
    if (temp) await rm(temp, { force: true });
  }
}

/** Adds `artifacts` (and `artifacts download`) under an existing `job` command. */
export function registerJobArtifactsCommands(jobCommand: Command): void {
  const artifacts = jobCommand
    .command("artifacts")
    .description("list a job's artifacts, or download one (artifacts download <job>)")
    .argument("<job>", "job id")
    .action(
      action(async (ctx, jobId: string) => {
        const { artifacts: list } = await ctx.clients().jobs.listJobArtifacts({ jobId }, callOptions(ctx));
        return { data: list.map((a) => toDisplayJson(ArtifactSchema, a)), table: artifactTable(list) };
      }),
    );

  artifacts
    .command("download")
    .description("download one artifact, verified against its size and sha256 (default: the latest bundle)")
    .argument("<job>", "job id")
    .option("--path <path>", "the artifact's relative path as uploaded, e.g. changes.patch")
    .option("--name <name>", "the artifact's base name")
    .option("--id <id>", "the artifact's id")
    .option("--out <dir|file|->", "directory to write into, the file to write, or - for stdout (default: ./<name>)")
    .action(
      action(async (ctx, jobId: string, opts: DownloadOptions) => {
        const { artifact, out } = await download(ctx, jobId, opts);
        if (out === "-") {
          process.stderr.write(
            `verified ${artifact.path} (${formatBytes(Number(artifact.sizeBytes))}, sha256 ${artifact.sha256})\n`,
          );
          return undefined;
        }
        return {
          data: { artifact: toDisplayJson(ArtifactSchema, artifact), out },
          text: `downloaded ${artifact.path} to ${out} (${formatBytes(Number(artifact.sizeBytes))}, sha256 ${artifact.sha256})`,
        };
      }),
    );
}
