import { z } from "zod";

/**
 * The profile format, one zod schema per backend. Key names are the YAML's (snake_case) so that an
 * error names exactly what the operator wrote. Unknown keys are not rejected here: the document
 * validator warns about them (with the closest known key) and strips them before parsing.
 */

export const PROFILE_BACKENDS = ["proxmox", "local"] as const;
export type ProfileBackend = (typeof PROFILE_BACKENDS)[number];

export const PROXMOX_NETWORK_MODES = ["off", "nat", "allowlist"] as const;
export const LOCAL_NETWORK_MODES = ["none", "host"] as const;

/**
 * The Proxmox firewall group each mode stands for; a profile naming a different group next to a
 * mode is contradictory (agentlab-reference.md §4.2).
 */
export const FIREWALL_GROUP_FOR_MODE: Record<(typeof PROXMOX_NETWORK_MODES)[number], string> = {
  off: "agent_nat_off",
  nat: "agent_nat_default",
  allowlist: "agent_nat_allowlist",
};

export const NIC_MODELS = ["virtio", "e1000", "e1000e", "rtl8139", "vmxnet3"] as const;
export const SCSI_CONTROLLERS = [
  "virtio-scsi-pci",
  "virtio-scsi-single",
  "lsi",
  "lsi53c810",
  "megasas",
  "pvscsi",
] as const;

const PROFILE_NAME_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

const profileName = z.string({ error: "is required and must be a string" }).regex(PROFILE_NAME_PATTERN, {
  error: "must be 1-63 lowercase letters, digits or '-', starting and ending with a letter or digit (like a DNS label)",
});

const wholeNumber = (minimum: number, what: string) =>
  z.int({ error: `must be a whole number (${what})` }).min(minimum, { error: `must be at least ${minimum} (${what})` });

const resources = z.object({
  cores: wholeNumber(1, "virtual CPU cores").optional(),
  memory_mb: wholeNumber(64, "memory in MiB").optional(),
  // Proxmox `cpulimit`: a share of host CPU time, 0 = unlimited, at most 128 (its own range).
  cpulimit: z
    .number({ error: "must be a number of host CPUs (0 = unlimited)" })
    .min(0, { error: "must be between 0 and 128" })
    .max(128, { error: "must be between 0 and 128" })
    .optional(),
});

const behavior = z.object({
  keepalive_default: z.boolean({ error: "must be true or false" }).optional(),
  // ≤ 0 means "no TTL", as upstream; kept as written so `describeProfileDefaults` can say so.
  ttl_minutes_default: z.int({ error: "must be a whole number of minutes (0 or less = no TTL)" }).optional(),
  max_active: wholeNumber(1, "sandboxes of this profile active at once").optional(),
});

const secretsBundle = z
  .string({ error: "must be a bundle name" })
  .regex(/^[a-z0-9_-]{1,64}$/, { error: "must be 1-64 characters of a-z, 0-9, '_' or '-' (a file in secrets_dir)" });

const agent = z.object({
  command: z
    .string({ error: "must be one string; it runs through the guest's shell (write arguments inside it)" })
    .trim()
    .min(1, { error: "must not be empty" }),
});

const retention = (unit: string) =>
  z.int({ error: `must be a whole number of ${unit}` }).min(0, { error: "must be 0 or more (0 = keep forever)" });

const artifacts = z.object({
  retention_minutes: retention("minutes").optional(),
  retention_hours: retention("hours").optional(),
  retention_days: retention("days").optional(),
});

const description = z.string({ error: "must be a string" }).optional();

const proxmoxNetwork = z
  .object({
    bridge: z
      .string({ error: "must be a Proxmox bridge name" })
      .regex(/^[A-Za-z][A-Za-z0-9_.-]{0,15}$/, { error: "must be a Linux bridge name such as vmbr1" })
      .default("vmbr1"),
    model: z.enum(NIC_MODELS, { error: `must be one of ${NIC_MODELS.join(", ")}` }).default("virtio"),
    mode: z
      .enum(PROXMOX_NETWORK_MODES, { error: `must be one of ${PROXMOX_NETWORK_MODES.join(", ")} for backend proxmox` })
      .optional(),
    firewall: z.boolean({ error: "must be true or false" }).optional(),
    firewall_group: z
      .string({ error: "must be a Proxmox firewall security group name" })
      .regex(/^[A-Za-z][A-Za-z0-9_-]{0,62}$/, {
        error: "must be a Proxmox security group name (letters, digits, _ or -)",
      })
      .optional(),
  })
  .superRefine((network, context) => {
    const modeGroup = network.mode ? FIREWALL_GROUP_FOR_MODE[network.mode] : undefined;
    if (modeGroup && network.firewall_group && network.firewall_group !== modeGroup) {
      context.addIssue({
        code: "custom",
        path: ["firewall_group"],
        message: `contradicts mode "${network.mode}", which uses group "${modeGroup}"; remove firewall_group or the mode`,
      });
    }
    const group = network.firewall_group ?? modeGroup;
    if (network.firewall === false && group) {
      context.addIssue({
        code: "custom",
        path: ["firewall"],
        message: `is false but the profile asks for firewall group "${group}"${network.firewall_group ? "" : ` (from mode "${network.mode}")`}; set firewall: true or remove the group/mode`,
      });
    }
  });

const proxmoxStorage = z.object({
  root_size_gb: wholeNumber(1, "root disk size in GiB").optional(),
  scsihw: z
    .enum(SCSI_CONTROLLERS, { error: `must be one of ${SCSI_CONTROLLERS.join(", ")}` })
    .default("virtio-scsi-pci"),
  workspace_storage: z
    .string({ error: "must be a Proxmox storage id" })
    .regex(/^[A-Za-z][A-Za-z0-9_.-]*$/, { error: "must be a Proxmox storage id such as local-lvm" })
    .optional(),
});

const localNetwork = z.object({
  mode: z
    .enum(LOCAL_NETWORK_MODES, { error: `must be one of ${LOCAL_NETWORK_MODES.join(", ")} for backend local` })
    .default("none"),
});

export const proxmoxProfileSchema = z.object({
  name: profileName,
  backend: z.literal("proxmox"),
  description,
  template_vmid: z
    .int({ error: "is required for backend proxmox: the VMID of the template VM to clone (a whole number)" })
    .min(100, { error: "must be at least 100 (Proxmox reserves VMIDs below 100)" }),
  resources: resources.prefault({}),
  network: proxmoxNetwork.prefault({}),
  storage: proxmoxStorage.prefault({}),
  behavior: behavior.prefault({}),
  secrets_bundle: secretsBundle.optional(),
  agent: agent.optional(),
  artifacts: artifacts.prefault({}),
});

export const localProfileSchema = z.object({
  name: profileName,
  backend: z.literal("local"),
  description,
  resources: resources.prefault({}),
  network: localNetwork.prefault({}),
  behavior: behavior.prefault({}),
  secrets_bundle: secretsBundle.optional(),
  agent: agent.optional(),
  artifacts: artifacts.prefault({}),
});

export const profileSchema = z.discriminatedUnion("backend", [proxmoxProfileSchema, localProfileSchema]);

export type ProxmoxProfile = z.output<typeof proxmoxProfileSchema>;
export type LocalProfile = z.output<typeof localProfileSchema>;
export type Profile = z.output<typeof profileSchema>;

/**
 * Known keys per backend, as a tree: `true` is a leaf, an object a nested mapping. Used to warn about
 * unknown keys and to suggest the closest known one.
 */
export type KnownKeyTree = { readonly [key: string]: true | KnownKeyTree };

function keyTreeOf(schema: z.ZodObject): KnownKeyTree {
  const tree: Record<string, true | KnownKeyTree> = {};
  for (const [key, field] of Object.entries(schema.shape)) {
    const inner = unwrapToObject(field as z.ZodType);
    tree[key] = inner ? keyTreeOf(inner) : true;
  }
  return tree;
}

function unwrapToObject(schema: z.ZodType): z.ZodObject | undefined {
  let current: z.ZodType = schema;
  // optional / default / prefault / pipe wrappers all expose the wrapped schema somewhere in `def`.
  for (let depth = 0; depth < 8; depth++) {
    if (current instanceof z.ZodObject) return current;
    const def = current.def as { innerType?: z.ZodType; in?: z.ZodType };
    const next = def.innerType ?? def.in;
    if (!next) return undefined;
    current = next;
  }
  return undefined;
}

export const KNOWN_KEYS: Record<ProfileBackend, KnownKeyTree> = {
  proxmox: keyTreeOf(proxmoxProfileSchema),
  local: keyTreeOf(localProfileSchema),
};

/** Minutes to keep a job's artifacts; `undefined` = forever. Minutes win over hours over days. */
export function artifactRetentionMinutes(profile: Profile): number | undefined {
  const { retention_minutes, retention_hours, retention_days } = profile.artifacts;
  const minutes =
    retention_minutes ??
    (retention_hours !== undefined ? retention_hours * 60 : undefined) ??
    (retention_days !== undefined ? retention_days * 24 * 60 : undefined);
  return minutes === undefined || minutes === 0 ? undefined : minutes;
}
