import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { ReportStatusRequestSchema } from "@agentlab/api";
import { create, fromJson, type JsonValue, toJson } from "@bufbuild/protobuf";
import type { StatusReport } from "./control-channel.js";
import { writePrivateFile } from "./private-files.js";

/**
 * A final report control never acknowledged. Kept in the run directory so that the restart systemd
 * makes after a non-zero exit resends it instead of running the agent a second time.
 */
export function pendingFinalReportPath(runDir: string): string {
  return join(runDir, "pending-final-report.json");
}

export async function writePendingFinalReport(runDir: string, report: StatusReport): Promise<void> {
  const json = toJson(ReportStatusRequestSchema, create(ReportStatusRequestSchema, report));
  await writePrivateFile(pendingFinalReportPath(runDir), `${JSON.stringify(json)}\n`);
}

export async function readPendingFinalReport(runDir: string): Promise<StatusReport | undefined> {
  let text: string;
  try {
    text = await readFile(pendingFinalReportPath(runDir), "utf8");
  } catch {
    return undefined;
  }
  const {
    jobId: _jobId,
    vmid: _vmid,
    reportToken: _token,
    $typeName: _type,
    ...report
  } = fromJson(ReportStatusRequestSchema, JSON.parse(text) as JsonValue);
  return report;
}

export async function clearPendingFinalReport(runDir: string): Promise<void> {
  await rm(pendingFinalReportPath(runDir), { force: true });
}
