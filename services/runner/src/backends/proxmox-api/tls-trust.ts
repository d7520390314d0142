import { readFileSync } from "node:fs";
import type { AgentOptions } from "node:https";
import { connect, type PeerCertificate } from "node:tls";
import { BackendError } from "../../backend-errors.js";
import type { ProxmoxLogger } from "../proxmox-common/runtime-deps.js";

/**
 * How the runner trusts pveproxy's certificate (reference/proxmox.md §1.7; agentlab-reference.md §8
 * item 9). Exactly one of: a CA file (pve-root-ca.pem), a pinned SHA-256 fingerprint, or an explicit
 * insecure flag. Everything goes into a dedicated https.Agent — never process-wide TLS settings.
 */
export interface TlsTrustOptions {
  /** `proxmox_tls_ca_path`: PEM file of the CA that signed the node certificate. */
  caFile?: string;
  /** `proxmox_tls_fingerprint`: SHA-256 of the node certificate, colon hex (as `pvenode cert info`). */
  fingerprint?: string;
  /** `proxmox_tls_insecure`: skip verification entirely (logged loudly). */
  insecure?: boolean;
}

export type TlsMode = "ca" | "fingerprint" | "insecure" | "system";

export function normaliseFingerprint(text: string): string {
  const hex = text
    .replace(/^sha256[:=]?/i, "")
    .replace(/[^0-9a-fA-F]/g, "")
    .toUpperCase();
  if (hex.length !== 64) {
    throw new BackendError(
      "invalid_argument",
      `proxmox_tls_fingerprint ${JSON.stringify(text)} is not a SHA-256 fingerprint`,
      {
        hint: "copy ssl_fingerprint from 'pvenode cert info' or GET /nodes: 32 colon-separated hex bytes",
      },
    );
  }
  return hex.match(/../g)!.join(":");
}

export function tlsMode(options: TlsTrustOptions): TlsMode {
  const chosen = [
    options.caFile ? "proxmox_tls_ca_path" : "",
    options.fingerprint ? "proxmox_tls_fingerprint" : "",
    options.insecure ? "proxmox_tls_insecure" : "",
  ].filter(Boolean);
  if (chosen.length > 1) {
    throw new BackendError("invalid_argument", `${chosen.join(" and ")} are mutually exclusive`, {
      hint: "keep one: a CA file, a pinned fingerprint, or (for a lab only) insecure",
    });
  }
  if (options.caFile) return "ca";
  if (options.fingerprint) return "fingerprint";
  if (options.insecure) return "insecure";
  return "system";
}

function pemOf(cert: PeerCertificate): string {
  const b64 = cert.raw
    .toString("base64")
    .match(/.{1,64}/g)!
    .join("\n");
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

function fingerprintMismatch(expected: string, got: string | undefined, host: string): BackendError {
  return new BackendError(
    "tls",
    `certificate of ${host} has SHA-256 fingerprint ${got ?? "(none)"}, expected ${expected}`,
    {
      hint: "if the node certificate was renewed on purpose, update proxmox_tls_fingerprint from 'pvenode cert info'; otherwise something is intercepting the connection",
    },
  );
}

/**
 * For fingerprint pinning we need the certificate itself as a trust anchor (§1.7 [verified]:
 * `rejectUnauthorized:false` never calls checkServerIdentity, so it cannot pin). A probe handshake
 * that sends no application data fetches it; it is trusted only if its fingerprint matches the pin.
 */
export function probePinnedCertificate(
  host: string,
  port: number,
  fingerprint: string,
  timeoutMs: number,
): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host,
      port,
      servername: /^[\d.]+$|:/.test(host) ? undefined : host,
      rejectUnauthorized: false,
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new BackendError("unreachable", `TLS handshake with ${host}:${port} did not finish within ${timeoutMs} ms`),
      );
    }, timeoutMs);
    socket.once("secureConnect", () => {
      clearTimeout(timer);
      const leaf = socket.getPeerCertificate(true);
      socket.destroy();
      if (!leaf?.raw || leaf.fingerprint256 !== fingerprint) {
        reject(fingerprintMismatch(fingerprint, leaf?.fingerprint256, `${host}:${port}`));
        return;
      }
      // The leaf plus whatever chain the server sent, so a CA-signed leaf verifies too.
      const pems = [pemOf(leaf)];
      let issuer = leaf.issuerCertificate;
      while (issuer?.raw && !pems.includes(pemOf(issuer))) {
        pems.push(pemOf(issuer));
        issuer = issuer.issuerCertificate;
      }
      resolve(pems);
    });
    socket.once("error", (err) => {
      clearTimeout(timer);
      reject(new BackendError("unreachable", `cannot reach ${host}:${port}: ${err.message}`, {}, { cause: err }));
    });
  });
}

/** Agent options for a mode; the fingerprint mode needs the probed certificate chain. */
export function agentTlsOptions(
  options: TlsTrustOptions,
  log: ProxmoxLogger,
  pinnedChain?: string[],
): Pick<AgentOptions, "ca" | "rejectUnauthorized" | "checkServerIdentity"> & { allowPartialTrustChain?: boolean } {
  switch (tlsMode(options)) {
    case "ca": {
      let ca: string;
      try {
        ca = readFileSync(options.caFile!, "utf8");
      } catch (err) {
        throw new BackendError(
          "invalid_argument",
          `cannot read proxmox_tls_ca_path ${options.caFile}: ${(err as Error).message}`,
          {
            hint: "copy /etc/pve/pve-root-ca.pem from the node and make it readable by the runner",
          },
        );
      }
      // PVE certificates name the node, its IPs and localhost; connect by one of those names.
      return { ca, rejectUnauthorized: true };
    }
    case "fingerprint": {
      const expected = normaliseFingerprint(options.fingerprint!);
      return {
        ca: pinnedChain ?? [],
        rejectUnauthorized: true,
        // Node ≥ 20.18: trust the pinned leaf itself even when it is not self-signed.
        allowPartialTrustChain: true,
        // The pin replaces host-name checks: PVE certs often lack the name we connect by (§1.7).
        checkServerIdentity: (host, cert) =>
          cert.fingerprint256 === expected ? undefined : fingerprintMismatch(expected, cert.fingerprint256, host),
      };
    }
    case "insecure":
      log.warn(
        "PROXMOX TLS VERIFICATION IS OFF (proxmox_tls_insecure: true): anyone on the path can read the API token. Use proxmox_tls_fingerprint or proxmox_tls_ca_path instead.",
      );
      return { rejectUnauthorized: false };
    default:
      return { rejectUnauthorized: true };
  }
}
