import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { GuestArtifact, JobSpec } from "@agentlab/api";
import { ArtifactUploader } from "./artifact-uploader.js";
import type { GitRunner } from "./git-command.js";
import type { GuestContext } from "./guest-context.js";
import { errorMessage } from "./guest-error.js";
import { type JobOutcome, writeJobReport } from "./job-report.js";
import type { LogStreamer } from "./log-streamer.js";
import { buildPatch } from "./patch-builder.js";
import { writeTarGz } from "./tar-gz-writer.js";

export const BUNDLE_NAME = "agentlab-artifacts.tar.gz";
export const PATCH_NAME = "changes.patch";
export const REPORT_NAME = "report.json";
export const LOG_NAME = "agent.log";

export interface BundleInput {
  ctx: GuestContext;
  job: JobSpec;
  outcome: JobOutcome;
  git: GitRunner;
  streamer: LogStreamer;
  upload: { endpoint: string; token: string; maxBytes: bigint } | undefined;
}

/**
 * Collects what the job produced (changes.patch, report.json, agent.log), bundles it and uploads the
 * bundle and the patch on its own. Fills in the outcome's final commit; returns what was uploaded.
 * Failures here are logged and named in the outcome's message but never hide the agent's result.
 */
export async function collectAndUpload(input: BundleInput): Promise<GuestArtifact[]> {
  const { ctx, outcome, streamer } = input;
  const jobDir = ctx.settings.jobDir;
  const patchFile = join(jobDir, PATCH_NAME);
  await writeFile(patchFile, "", { mode: 0o600 });
  if (outcome.startCommit) {
    try {
      const { finalCommit } = await buildPatch({
        repoDir: ctx.settings.repoDir,
        startCommit: outcome.startCommit,
        patchFile,
        scratchIndex: join(jobDir, "patch.index"),
        git: input.git,
      });
      outcome.finalCommit = finalCommit;
    } catch (err) {
      streamer.system(errorMessage(err));
      outcome.message += "; changes.patch could not be built";
    }
  }
  const reportFile = join(jobDir, REPORT_NAME);
  await writeJobReport(reportFile, outcome, input.job);
  if (!input.upload?.endpoint || !input.upload.token) {
    streamer.system("no upload target in the bootstrap payload: artifacts stay in the sandbox");
    return [];
  }
  const bundleFile = join(jobDir, BUNDLE_NAME);
  await writeTarGz(bundleFile, [
    { name: LOG_NAME, source: join(jobDir, LOG_NAME) },
    { name: REPORT_NAME, source: reportFile },
    { name: PATCH_NAME, source: patchFile },
  ]);
  const uploader = new ArtifactUploader({
    endpoint: input.upload.endpoint,
    token: input.upload.token,
    maxBytes: input.upload.maxBytes,
    createTransport: ctx.createTransport,
    sleep: ctx.sleep,
    retry: ctx.tuning.uploadRetry,
    log: (line) => streamer.system(line),
  });
  const uploaded: GuestArtifact[] = [];
  for (const request of [
    { file: bundleFile, path: BUNDLE_NAME, mime: "application/gzip" },
    { file: patchFile, path: PATCH_NAME, mime: "text/x-diff" },
  ]) {
    try {
      const artifact = await uploader.upload(request);
      uploaded.push(artifact);
      streamer.system(`uploaded ${artifact.path} (${artifact.sizeBytes} bytes, sha256 ${artifact.sha256})`);
    } catch (err) {
      streamer.system(errorMessage(err));
      outcome.message += `; upload of ${request.path} failed`;
    }
  }
  return uploaded;
}
