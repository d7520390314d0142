import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { type FetchBootstrapResponse, FetchBootstrapResponseSchema } from "@agentlab/api";
import { fromJson, type JsonValue, toJson } from "@bufbuild/protobuf";
import { GuestError } from "./guest-error.js";
import { writePrivateFile } from "./private-files.js";

/**
 * The bootstrap token is spent by the first FetchBootstrap, so a guest that restarts mid-job (a crash,
 * Restart=on-failure) needs the payload it already received. It lives in tmpfs under the run
 * directory, mode 0600, and is deleted when the job is over.
 */
export function payloadCachePath(runDir: string): string {
  return join(runDir, "bootstrap-payload.json");
}

/** Written once the final report is delivered: a later start of the unit has nothing left to do. */
export function finishedMarkerPath(runDir: string): string {
  return join(runDir, "job-finished.json");
}

interface CacheFile {
  vmid: number;
  payload: JsonValue;
}

export async function writePayloadCache(runDir: string, vmid: number, payload: FetchBootstrapResponse): Promise<void> {
  const file: CacheFile = { vmid, payload: toJson(FetchBootstrapResponseSchema, payload) };
  await writePrivateFile(payloadCachePath(runDir), `${JSON.stringify(file)}\n`);
}

/** The cached payload for this VMID, or undefined when there is none. */
export async function readPayloadCache(runDir: string, vmid: number): Promise<FetchBootstrapResponse | undefined> {
  const path = payloadCachePath(runDir);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  try {
    const file = JSON.parse(text) as CacheFile;
    // A cache from another sandbox (a copied disk, a reused run directory) is not ours to run.
    if (file.vmid !== vmid) return undefined;
    return fromJson(FetchBootstrapResponseSchema, file.payload);
  } catch (err) {
    throw new GuestError(
      `cached bootstrap payload ${path} is unreadable`,
      "delete it; the job cannot be resumed without a new bootstrap token",
      { cause: err },
    );
  }
}

export async function deletePayloadCache(runDir: string): Promise<void> {
  await rm(payloadCachePath(runDir), { force: true });
}

export interface FinishedMarker {
  job_id: string;
  status: string;
  finished_at: string;
}

export async function writeFinishedMarker(runDir: string, marker: FinishedMarker): Promise<void> {
  await writePrivateFile(finishedMarkerPath(runDir), `${JSON.stringify(marker)}\n`);
}

export async function readFinishedMarker(runDir: string): Promise<FinishedMarker | undefined> {
  try {
    return JSON.parse(await readFile(finishedMarkerPath(runDir), "utf8")) as FinishedMarker;
  } catch {
    return undefined;
  }
}
