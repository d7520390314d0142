/**
 * What control can learn of its peers right now: each runner's GetInfo (backend, node, version,
 * capacity) and the artifacts service's health check, whose reply carries the build version in the
 * `x-agentlab-version` header that every AgentLab listener sets.
 */

import { BuildVersionSchema, Health, type PeerStatus, PeerStatusSchema } from "@agentlab/api";
import { create } from "@bufbuild/protobuf";
import { type Client, createClient, type Transport } from "@connectrpc/connect";
import type { RunnerPool } from "../runners/runner-pool.js";

const PROBE_TIMEOUT_MS = 3000;

/** `AgentLab version=v1.2.3 commit=abc1234 date=…` → its three fields. */
export function parseVersionLine(line: string | undefined | null) {
  if (!line) return undefined;
  const field = (name: string) => new RegExp(`${name}=(\\S+)`).exec(line)?.[1] ?? "";
  return create(BuildVersionSchema, { version: field("version"), commit: field("commit"), date: field("date") });
}

export interface ArtifactsPeer {
  endpoint: string;
  transport: Transport;
}

export async function probePeers(runners: RunnerPool, artifacts: ArtifactsPeer | undefined): Promise<PeerStatus[]> {
  const runnerProbes = runners.all().map(async (runner) => {
    try {
      const info = await runner.client.getInfo({}, { timeoutMs: PROBE_TIMEOUT_MS });
      return create(PeerStatusSchema, {
        name: runner.name,
        kind: "runner",
        endpoint: runner.endpoint,
        reachable: true,
        version: parseVersionLine(info.runnerVersion),
        backendKind: info.backendKind,
        backendDetail: `${info.node} (${info.hypervisorVersion})`,
      });
    } catch (err) {
      return create(PeerStatusSchema, {
        name: runner.name,
        kind: "runner",
        endpoint: runner.endpoint,
        reachable: false,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  });
  const artifactsProbe = artifacts ? [probeArtifacts(artifacts)] : [];
  return Promise.all([...runnerProbes, ...artifactsProbe]);
}

async function probeArtifacts(peer: ArtifactsPeer): Promise<PeerStatus> {
  const health: Client<typeof Health> = createClient(Health, peer.transport);
  let versionHeader: string | null = null;
  try {
    await health.check(
      { service: "agentlab.artifacts.v1.ArtifactService" },
      { timeoutMs: PROBE_TIMEOUT_MS, onHeader: (h) => (versionHeader = h.get("x-agentlab-version")) },
    );
    return create(PeerStatusSchema, {
      name: "artifacts",
      kind: "artifacts",
      endpoint: peer.endpoint,
      reachable: true,
      version: parseVersionLine(versionHeader),
    });
  } catch (err) {
    return create(PeerStatusSchema, {
      name: "artifacts",
      kind: "artifacts",
      endpoint: peer.endpoint,
      reachable: false,
      error: err instanceof Error ? err.message : String(err),
    });
  }
}
