import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { stringify } from "yaml";
import { BackendError } from "../../backend-errors.js";

/**
 * Cloud-init user-data snippets (reference/agentlab-reference.md §5.2, §8 item 12;
 * reference/proxmox.md §3 "Cloud-init snippets"). Snippets live on file storage with the `snippets`
 * content type and cannot be uploaded through the API, so the runner writes them on the node's
 * filesystem; Proxmox reads them when it builds the cloud-init ISO at start.
 */
export interface SnippetConfig {
  /** Absolute directory backing `<snippetStorage>:snippets/` (default `/var/lib/vz/snippets`). */
  snippetsDir: string;
  /** Proxmox storage id holding the snippets (default `local`). */
  snippetStorage: string;
  /** Optional single-line SSH public key for the `agent` user. */
  sshPublicKey?: string;
}

export interface WrittenSnippet {
  /** Absolute file path on the node. */
  filePath: string;
  /** File name inside the snippets dir. */
  fileName: string;
  /** `<storage>:snippets/<file>`, the value for `cicustom user=`. */
  volid: string;
}

const HOSTNAME_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const STORAGE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const SNIPPET_FILE = /^agentlab-(\d+)-[0-9a-f]{16}\.yaml$/;
const MAX_SNIPPET_BYTES = 3 * 1024 * 1024; // §3: Proxmox limits cloud-init data to 3 MiB in total

/** RFC 1123 host name: dot-separated labels of [a-z0-9-], no leading/trailing dash, ≤ 253 chars. */
export function validateHostname(hostname: string): void {
  const labels = hostname.split(".");
  if (hostname.length === 0 || hostname.length > 253 || !labels.every((l) => HOSTNAME_LABEL.test(l))) {
    throw new BackendError("invalid_argument", `invalid VM host name ${JSON.stringify(hostname)}`, {
      hint: "use lower-case letters, digits and '-' (RFC 1123); no '_' — Proxmox rejects it too (reference/proxmox.md §1.1)",
    });
  }
}

export function validateSnippetConfig(config: SnippetConfig): void {
  if (!path.isAbsolute(config.snippetsDir)) {
    throw new BackendError(
      "invalid_argument",
      `snippets_dir must be an absolute path, got ${JSON.stringify(config.snippetsDir)}`,
      {
        hint: "set snippets_dir to the directory of the snippet storage, e.g. /var/lib/vz/snippets",
      },
    );
  }
  if (!STORAGE_ID.test(config.snippetStorage)) {
    throw new BackendError(
      "invalid_argument",
      `snippet_storage has an invalid storage id ${JSON.stringify(config.snippetStorage)}`,
      {
        hint: "use the Proxmox storage id (letters, digits, '-', '_', '.'; ≤ 64), e.g. local",
      },
    );
  }
  if (config.sshPublicKey !== undefined && /[\r\n]/.test(config.sshPublicKey)) {
    throw new BackendError("invalid_argument", "the agent SSH public key must be a single line", {
      hint: "give one 'ssh-ed25519 AAAA… comment' line",
    });
  }
}

/** The cloud-config document. The bootstrap JSON goes in verbatim (it carries the one-time token). */
export function renderCloudConfig(hostname: string, bootstrapJson: string, sshPublicKey?: string): string {
  validateHostname(hostname);
  const doc: Record<string, unknown> = { hostname, preserve_hostname: false };
  if (sshPublicKey) {
    doc.users = [
      "default",
      { name: "agent", shell: "/bin/bash", lock_passwd: true, ssh_authorized_keys: [sshPublicKey.trim()] },
    ];
  }
  doc.write_files = [
    {
      path: "/etc/agentlab/bootstrap.json",
      permissions: "0600",
      ...(sshPublicKey ? { owner: "agent:agent", defer: true } : {}),
      content: bootstrapJson,
    },
  ];
  return `#cloud-config\n${stringify(doc, { lineWidth: 0 })}`;
}

/**
 * Creates `<dir>/agentlab-<vmid>-<16hex>.yaml` exclusively with mode 0600 (5 name attempts). No
 * fsync: Proxmox reads the file on this node when the VM starts, from the page cache (and an NFS
 * close() already hands it to the server); a host crash before that start fails the sandbox anyway
 * (control's startup sweep destroys it), so a flush would buy nothing and cost a journal commit per
 * sandbox — about as much CPU as the rest of the provision's file work.
 */
export async function writeSnippet(
  config: SnippetConfig,
  vmid: number,
  hostname: string,
  bootstrapJson: string,
  randomHex: (bytes: number) => string = (n) => randomBytes(n).toString("hex"),
): Promise<WrittenSnippet> {
  validateSnippetConfig(config);
  const content = renderCloudConfig(hostname, bootstrapJson, config.sshPublicKey);
  if (Buffer.byteLength(content) > MAX_SNIPPET_BYTES) {
    throw new BackendError(
      "invalid_argument",
      `cloud-init snippet for VM ${vmid} is ${Buffer.byteLength(content)} bytes`,
      {
        vmid,
        hint: "Proxmox accepts at most 3 MiB of cloud-init data; shrink the bootstrap document",
      },
    );
  }
  const dir = path.resolve(config.snippetsDir);
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const fileName = `agentlab-${vmid}-${randomHex(8)}.yaml`;
    const filePath = safeJoin(dir, fileName);
    try {
      // `wx`: O_CREAT | O_EXCL, so a file already there (or a symlink planted there) is never followed.
      await fs.writeFile(filePath, content, { flag: "wx", mode: 0o600 });
      return { filePath, fileName, volid: `${config.snippetStorage}:snippets/${fileName}` };
    } catch (err) {
      lastError = err;
      if ((err as NodeJS.ErrnoException).code === "EEXIST") continue;
      const code = (err as NodeJS.ErrnoException).code;
      throw new BackendError(
        "unavailable",
        `cannot write cloud-init snippet ${filePath}: ${code ?? String(err)}`,
        {
          vmid,
          hint:
            code === "ENOENT"
              ? `create ${dir} and enable the snippets content type: pvesm set ${config.snippetStorage} --content iso,vztmpl,backup,snippets`
              : `the runner needs write access to ${dir}`,
        },
        { cause: err },
      );
    }
  }
  throw new BackendError(
    "internal",
    `could not find a free snippet file name for VM ${vmid} in ${dir}`,
    { vmid },
    { cause: lastError },
  );
}

/** Joins and refuses anything that would leave `dir` (§8 item 12). */
export function safeJoin(dir: string, fileName: string): string {
  const full = path.resolve(dir, fileName);
  if (path.dirname(full) !== path.resolve(dir) || fileName.includes("/") || fileName.includes("\0")) {
    throw new BackendError("invalid_argument", `snippet file name ${JSON.stringify(fileName)} escapes ${dir}`);
  }
  return full;
}

/**
 * Deletes our snippets of `vmid`: every `agentlab-<vmid>-*.yaml`, the one the VM's cicustom names
 * and any left by a provision interrupted between writing and configuring. A file named after
 * another VMID is never touched, even when a cicustom names it (a VM cloned from a sandbox copies
 * its cicustom; destroying the copy must not take the original's snippet).
 */
export async function deleteSnippetsOf(config: SnippetConfig, vmid: number): Promise<string[]> {
  const dir = path.resolve(config.snippetsDir);
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return [];
  }
  const ours = names.filter((n) => SNIPPET_FILE.exec(n)?.[1] === String(vmid));
  const removed: string[] = [];
  for (const name of ours) {
    try {
      await fs.unlink(safeJoin(dir, name));
      removed.push(name);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }
  return removed;
}
