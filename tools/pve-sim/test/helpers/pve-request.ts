import { request } from "node:https";
import type { ManualClock, PveSim } from "../../src/index.js";

/** A raw HTTPS call to the simulator, as a PVE client would make it (loopback only). */
export interface PveResponse {
  status: number;
  reason: string;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: { data?: unknown; errors?: Record<string, string>; message?: string } | undefined;
}

export interface PveRequestOptions {
  token?: string | null;
  form?: Record<string, string>;
  json?: unknown;
}

export function pveRequest(
  sim: PveSim,
  method: string,
  path: string,
  opts: PveRequestOptions = {},
): Promise<PveResponse> {
  const url = new URL(`${sim.url}${path}`);
  let body: string | undefined;
  const headers: Record<string, string> = {};
  const token = opts.token === undefined ? sim.token : opts.token;
  if (token !== null) headers.authorization = `PVEAPIToken=${token}`;
  if (opts.form) {
    body = new URLSearchParams(opts.form).toString();
    headers["content-type"] = "application/x-www-form-urlencoded";
  } else if (opts.json !== undefined) {
    body = JSON.stringify(opts.json);
    headers["content-type"] = "application/json";
  }
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, ca: sim.caPem, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let json: PveResponse["json"];
        try {
          json = text ? JSON.parse(text) : undefined;
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, reason: res.statusMessage ?? "", headers: res.headers, text, json });
      });
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** Lets pending I/O and promise chains run (no wall-clock waiting). */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

/** Waits (in I/O turns, not time) until `predicate` holds. */
export async function until(predicate: () => boolean, what: string, rounds = 2000): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    if (predicate()) return;
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new Error(`condition never became true: ${what}`);
}

/** Advances a manual clock in steps until the task stops; returns its exit status. */
export async function finishTask(sim: PveSim, upid: string, stepMs = 250, maxSteps = 2000): Promise<string> {
  const clock = sim.clock as ManualClock;
  for (let i = 0; i < maxSteps; i++) {
    const task = sim.state.tasks.get(upid);
    if (!task) throw new Error(`unknown task ${upid}`);
    if (task.status === "stopped") return task.exitstatus ?? "";
    await clock.advance(stepMs);
  }
  throw new Error(`task ${upid} still running after ${maxSteps} steps`);
}
