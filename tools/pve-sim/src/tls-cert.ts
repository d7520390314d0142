import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A self-signed certificate made at start with the openssl CLI, SANs like a PVE node cert
 * (reference/proxmox.md §1.7: 127.0.0.1, ::1, localhost, node name). The PEM doubles as the CA.
 */
export interface SimCertificate {
  certPem: string;
  keyPem: string;
  /** Path of the certificate file (usable as a CA file by clients and the fake CLI). */
  caFile: string;
  /** SHA-256 colon hex, upper case, as GET /nodes `ssl_fingerprint` shows it. */
  fingerprint: string;
  dispose(): void;
}

/** An explicit non-loopback listen host also goes into the SANs. */
function extraSan(host: string): string {
  if (host === "127.0.0.1" || host === "::1" || host === "localhost" || host === "0.0.0.0" || host === "::") return "";
  return /^[\d.]+$|:/.test(host) ? `,IP:${host}` : `,DNS:${host}`;
}

export function createSimCertificate(nodeName: string, host = "127.0.0.1"): SimCertificate {
  const dir = mkdtempSync(join(tmpdir(), "pve-sim-tls-"));
  const keyFile = join(dir, "pve-ssl.key");
  const certFile = join(dir, "pve-ssl.pem");
  try {
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        keyFile,
        "-out",
        certFile,
        "-days",
        "3650",
        "-subj",
        `/OU=PVE Cluster Node/O=Proxmox Virtual Environment/CN=${nodeName}.pve-sim`,
        "-addext",
        `subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost,DNS:${nodeName}${extraSan(host)}`,
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(
      `pve-sim: openssl could not create the test certificate in ${dir} (${(err as Error).message}); install openssl or pass a plain-HTTP option`,
    );
  }
  const certPem = readFileSync(certFile, "utf8");
  return {
    certPem,
    keyPem: readFileSync(keyFile, "utf8"),
    caFile: certFile,
    fingerprint: new X509Certificate(certPem).fingerprint256,
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
