import { spawn } from "node:child_process";
import { obtainPayload } from "./bootstrap-fetcher.js";
import { readBootstrapFile } from "./bootstrap-file.js";
import type { GuestContext, GuestDeps, GuestTuning } from "./guest-context.js";
import { errorMessage } from "./guest-error.js";
import { resolveSettings } from "./guest-settings.js";
import { GuestStop, type StopSignal, signalExitCode } from "./guest-stop.js";
import { createGuestTransport } from "./guest-transport.js";
import { createChannel, deliverFinalReport, redactorFor } from "./job-channel.js";
import { statusName } from "./job-report.js";
import { runJob } from "./job-runner.js";
import { STOP_WIND_DOWN_MS } from "./job-stop.js";
import { readFinishedMarker, writeFinishedMarker } from "./payload-cache.js";
import { readPendingFinalReport } from "./pending-final-report.js";
import { ensurePrivateDir } from "./private-files.js";
import { BOOTSTRAP_RETRY, REPORT_RETRY, realSleep, STOPPING_RETRY, UPLOAD_RETRY } from "./retry-policy.js";
import { wipeSecrets } from "./secrets-wipe.js";

export const DEFAULT_TUNING: GuestTuning = {
  bootstrapRetry: BOOTSTRAP_RETRY,
  reportRetry: REPORT_RETRY,
  uploadRetry: UPLOAD_RETRY,
  stoppingRetry: STOPPING_RETRY,
  stopWindDownMs: STOP_WIND_DOWN_MS,
  logFlushIntervalMs: 1_000,
};

/**
 * Exit codes (docs/guest-runner.md): systemd restarts on anything but 0, EXIT_CONFIG
 * (RestartPreventExitStatus) and 128 + a stop signal's number (SuccessExitStatus; see guest-stop.ts).
 */
export const EXIT_OK = 0;
/**
 * Something failed that a restart may fix: control unreachable, or a final report not delivered —
 * also when a stop signal cut the delivery short — which the next start resends.
 */
export const EXIT_RETRY = 1;
/** The sandbox itself is misconfigured (no bootstrap file, refused token): restarting cannot help. */
export const EXIT_CONFIG = 3;

export interface GuestOptions extends Partial<Omit<GuestDeps, "tuning">> {
  env: NodeJS.ProcessEnv;
  tuning?: Partial<GuestTuning>;
}

export function guestDeps(options: GuestOptions): GuestDeps {
  return {
    env: options.env,
    spawn: options.spawn ?? spawn,
    createTransport: options.createTransport ?? createGuestTransport,
    sleep: options.sleep ?? realSleep,
    now: options.now ?? Date.now,
    log: options.log ?? ((line) => process.stderr.write(`agentlab-guest: ${line}\n`)),
    tuning: { ...DEFAULT_TUNING, ...options.tuning },
    stop: options.stop ?? new GuestStop(),
  };
}

/**
 * Races work against the first stop signal. Outside a job there is nothing to wind down, so a stop
 * wins at once; the abandoned work is left to settle unobserved (main.ts exits right after).
 */
async function orStopped<T>(stop: GuestStop, work: Promise<T>): Promise<{ value: T } | { signal: StopSignal }> {
  const waiting = stop.whenStopped();
  const done = work.then((value) => ({ value }));
  done.catch(() => {});
  try {
    return await Promise.race([done, waiting.promise.then((signal) => ({ signal }))]);
  } finally {
    waiting.off();
  }
}

/** The whole guest: bootstrap, run the job, report, clean up. Resolves with the exit code. */
export async function runGuest(options: GuestOptions): Promise<number> {
  const deps = guestDeps(options);
  let ctx: GuestContext;
  try {
    const settings = await resolveSettings(deps.env);
    const finished = await readFinishedMarker(settings.runDir);
    if (finished) {
      deps.log(`job ${finished.job_id} already finished (${finished.status}); nothing to do`);
      return EXIT_OK;
    }
    ctx = { ...deps, settings, bootstrap: await readBootstrapFile(settings.bootstrapFile) };
    await ensurePrivateDir(settings.runDir);
  } catch (err) {
    deps.log(errorMessage(err));
    return EXIT_CONFIG;
  }

  let outcome: Awaited<ReturnType<typeof obtainPayload>>;
  try {
    const fetched = await orStopped(
      ctx.stop,
      obtainPayload(ctx.bootstrap, ctx.settings.runDir, {
        createTransport: ctx.createTransport,
        sleep: ctx.sleep,
        retry: ctx.tuning.bootstrapRetry,
        log: ctx.log,
      }),
    );
    if ("signal" in fetched) {
      deps.log(`stopped by ${fetched.signal} before a job was fetched; exiting`);
      return signalExitCode(fetched.signal);
    }
    outcome = fetched.value;
  } catch (err) {
    deps.log(errorMessage(err));
    return /refused the bootstrap token/.test(errorMessage(err)) ? EXIT_CONFIG : EXIT_RETRY;
  }
  if (outcome.kind === "no-job") {
    deps.log(`no job assigned to VMID ${ctx.bootstrap.vmid} (${outcome.message}); exiting`);
    return EXIT_OK;
  }

  const { payload, cached } = outcome;
  const jobId = payload.job?.id ?? "";
  const pending = cached ? await readPendingFinalReport(ctx.settings.runDir) : undefined;
  let delivered: boolean;
  let status: string;
  if (pending) {
    // The job already ran; only its final report is missing.
    const redactor = redactorFor(payload, ctx.bootstrap.token);
    const log = (line: string) => ctx.log(redactor.redact(line));
    log(`resending the final report of job ${jobId}`);
    const sent = await orStopped(
      ctx.stop,
      deliverFinalReport(ctx, createChannel(ctx, payload, redactor), pending, log),
    );
    if ("signal" in sent) {
      // The report stays in the run directory for the next start.
      log(`stopped by ${sent.signal} while resending the final report; exiting`);
      return EXIT_RETRY;
    }
    delivered = sent.value;
    status = statusName(pending.status ?? 0);
  } else {
    try {
      const result = await runJob(ctx, payload, cached);
      if (result.forced) {
        ctx.log(`job ${jobId}: exited at once on ${result.forced}; the final report is kept for the next start`);
        await wipeSecrets(ctx.settings, { keepPayloadCache: true });
        return EXIT_RETRY;
      }
      delivered = result.delivered;
      status = statusName(result.outcome.status);
    } catch (err) {
      ctx.log(`job ${jobId} could not be run: ${errorMessage(err)}`);
      await wipeSecrets(ctx.settings, { keepPayloadCache: true });
      return EXIT_RETRY;
    }
  }
  await wipeSecrets(ctx.settings, { keepPayloadCache: !delivered });
  if (!delivered) return EXIT_RETRY;
  await writeFinishedMarker(ctx.settings.runDir, {
    job_id: jobId,
    status,
    finished_at: new Date(ctx.now()).toISOString(),
  });
  ctx.log(`job ${jobId} finished: ${status}`);
  // Nothing is owed any more: a stopped guest says it was stopped, and systemd counts that as clean.
  return ctx.stop.signal ? signalExitCode(ctx.stop.signal) : EXIT_OK;
}
