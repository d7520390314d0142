import type { FetchBootstrapResponse } from "@agentlab/api";
import { ControlChannel, type StatusReport } from "./control-channel.js";
import type { GuestContext } from "./guest-context.js";
import { errorMessage } from "./guest-error.js";
import { clearPendingFinalReport, writePendingFinalReport } from "./pending-final-report.js";
import { SecretRedactor } from "./secret-redactor.js";

/** Every secret the guest knows of: none of them may leave the sandbox in a log or report. */
export function redactorFor(payload: FetchBootstrapResponse, bootstrapToken: string): SecretRedactor {
  return new SecretRedactor([
    ...Object.values(payload.env),
    payload.git?.token,
    payload.git?.sshPrivateKey,
    payload.reportToken,
    payload.upload?.token,
    bootstrapToken,
  ]);
}

export function createChannel(ctx: GuestContext, payload: FetchBootstrapResponse, redactor: SecretRedactor) {
  return new ControlChannel({
    controller: ctx.bootstrap.controller,
    jobId: payload.job?.id ?? "",
    vmid: ctx.bootstrap.vmid,
    reportToken: payload.reportToken,
    createTransport: ctx.createTransport,
    sleep: ctx.sleep,
    now: ctx.now,
    log: (line) => ctx.log(redactor.redact(line)),
    redact: (text) => redactor.redact(text),
  });
}

/**
 * After a restart, control may already hold log entries from the previous run; numbering from 1
 * again would make control drop the new lines as repeats. An empty AppendLogs tells us where to go on.
 */
export async function firstLogSeq(
  channel: ControlChannel,
  restarted: boolean,
  log: (line: string) => void,
): Promise<bigint> {
  if (!restarted) return 1n;
  try {
    return (await channel.appendLogs([])).storedSeq + 1n;
  } catch (err) {
    log(`could not ask control for the stored log position (${errorMessage(err)}); numbering from 1`);
    return 1n;
  }
}

/** Sends the final report; when even retries fail, keeps it so the next start only resends it. */
export async function deliverFinalReport(
  ctx: GuestContext,
  channel: ControlChannel,
  report: StatusReport,
  log: (line: string) => void,
): Promise<boolean> {
  try {
    await channel.reportFinal(report, ctx.tuning.reportRetry);
    await clearPendingFinalReport(ctx.settings.runDir);
    return true;
  } catch (err) {
    log(`final ReportStatus could not be delivered: ${errorMessage(err)}; it will be resent when the guest restarts`);
    await writePendingFinalReport(ctx.settings.runDir, report);
    return false;
  }
}
