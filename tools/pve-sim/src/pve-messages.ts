/**
 * The error and status texts Proxmox VE really prints, in one place, so the simulator and the
 * runner backends' error-classification tests share them. Each entry cites the section of
 * /work/shared/reference/proxmox.md it comes from; `[inferred]` marks texts we could not observe.
 */

/** §1.3, §1.5: a VM whose config file is missing (HTTP 500 / CLI die). */
export const configMissing = (node: string, vmid: number): string =>
  `Configuration file 'nodes/${node}/qemu-server/${vmid}.conf' does not exist`;

/** §1.5 stop / §2 qm stop: the stop worker's text for a missing VM. */
export const configNotOnNode = (node: string, vmid: number): string =>
  `unable to find configuration file for VM ${vmid} on node '${node}'`;

/** §1.6: a persistent `lock:` config property blocks the operation at once. */
export const vmLocked = (reason: string): string => `VM is locked (${reason})`;

/** §1.6: flock contention on a VM config. */
export const vmFlockPath = (vmid: number): string => `/var/lock/qemu-server/lock-${vmid}.conf`;

/** §1.6: per-storage allocation flock path. */
export const storageFlockPath = (storage: string): string => `/var/lock/pve-manager/pve-storage-${storage}`;

/** §1.6: the text of any flock that could not be taken in time. */
export const lockTimeout = (path: string): string => `can't lock file '${path}' - got timeout`;

/** §3: shared storage uses a cluster lock instead of a flock. */
export const cfsLockTimeout = (storage: string): string =>
  `cfs-lock 'storage-${storage}' error: got lock request timeout`;

/** §1.5 clone: target already has a config. */
export const cloneTargetExists = (vmid: number): string => `unable to create VM ${vmid}: config file already exists`;

/** §1.5 clone: a failed clone worker's exit status. */
export const cloneFailed = (why: string): string => `clone failed: ${why}`;

/** §1.5 clone: linked-clone parameter rules. */
export const paramNotAllowedForLinked = (param: string): string => `parameter '${param}' not allowed for linked clones`;

/** §1.5, §3: storage (or a non-template source) that cannot make a linked clone. */
export const linkedCloneUnsupported = (volid: string, drive: string): string =>
  `Linked clone feature is not supported for '${volid}' (${drive})`;

/** §1.5 clone: cloning to another node with local disks. */
export const cloneLocalStorage = (target: string): string =>
  `can't clone VM to node '${target}' (VM uses local storage)`;

/** §1.5 start. */
export const startTemplate = "you can't start a vm if it's a template";
export const alreadyRunning = (vmid: number): string => `VM ${vmid} already running`;

/** §1.5 start, §3 cloud-init snippets: the snippet is read when the ISO is built at start. */
export const snippetMissing = (volid: string): string => `can't find file '${volid}'`;

/** §1.5 shutdown. */
export const shutdownTimeout = "VM quit/powerdown failed - got timeout";
export const shutdownPaused = "VM is paused - cannot shutdown";

/** §1.5 destroy. */
export const destroyRunning = (vmid: number): string => `VM ${vmid} is running - destroy failed`;
export const destroyProtected = (vmid: number): string => `can't remove VM ${vmid} - protection mode enabled`;
export const baseVolumeInUse = (volid: string): string => `base volume '${volid}' is still in use by linked cloned`;

/** §1.5 PUT config: digest mismatch. */
export const digestMismatch = "checksum mismatch (file change by other user?)";

/** §1.5 agent endpoint, §2 qm guest cmd. */
export const agentNotConfigured = "No QEMU guest agent configured";
export const vmNotRunning = (vmid: number): string => `VM ${vmid} is not running`;
export const agentNotRunning = "QEMU guest agent is not running";

/** §1.5 snapshots. */
export const snapshotNameUsed = (name: string): string => `snapshot name '${name}' already used`;
export const snapshotMissing = (name: string): string => `snapshot '${name}' does not exist`;
export const snapshotUnsupported = "snapshot feature is not available";
export const snapshotOfTemplate = "you can't take a snapshot if it's a template";
/** §1.1 snapshot names: `current`/`pending` are reserved. [inferred wording] */
export const snapshotReserved = (name: string): string => `unable to use snapshot name '${name}' (reserved name)`;

/** §1.3: the 400 reason phrase and the per-parameter texts of the `errors` map. */
export const paramVerificationFailed = "Parameter verification failed.";
export const paramUnknown = "property is not defined in schema and the schema does not allow additional properties";
export const paramMissing = "property is missing and it is not optional";
export const paramTypeCheck = (type: string, got: string): string => `type check ('${type}') failed - got '${got}'`;
export const paramMinimum = (min: number): string => `value must have a minimum value of ${min}`;
export const paramMaximum = (max: number): string => `value must have a maximum value of ${max}`;
export const paramMaxLength = (max: number): string => `value may only be ${max} characters long`;
export const paramDnsName = "invalid format - value does not look like a valid DNS name";
export const paramConfigId = (id: string): string => `invalid format - invalid configuration ID '${id}'`;
/** pve-common JSONSchema: a string outside the parameter's `enum`. */
export const paramEnum = (value: string, values: readonly string[]): string =>
  `value '${value}' does not have a value in the enumeration '${values.join(", ")}'`;

/** §1.5 nextid: `errors.vmid` when the asked-for ID is taken. */
export const vmidTaken = (vmid: number): string => `VM ${vmid} already exists`;

/** §1.3: unknown path or method. */
export const notImplemented = (method: string, path: string): string => `Method '${method} ${path}' not implemented`;

/** §1.3: a node name that does not exist. */
export const noSuchNode = (node: string): string => `no such cluster node '${node}'`;

/** §1.4: `errors.upid` for unknown or unparsable task IDs (also when polled on the wrong node). */
export const noSuchTask = "no such task";
export const upidUnparsable = "unable to parse worker upid";
/** §5.3: an aborted task's exit status. */
export const interruptedBySignal = "interrupted by signal";

/** §1.1: 401 reasons. */
export const authNoTicket = "No ticket";
export const authInvalidToken = "invalid token value!";
export const authNoSuchToken = (tokenid: string, user: string): string =>
  `no such token '${tokenid}' for user '${user}'`;

/** §1.3: AnyEvent::HTTP codes seen when pveproxy cannot reach pvedaemon. */
export const proxyTimeout = "Connection timed out";
export const proxyRefused = "Connection refused";

/** §2: the WARNINGS note on stderr and the pmxcfs failure. */
export const taskWarnings = (n: number): string => `Task finished with ${n} warning(s)!`;
export const ipccFailure = "ipcc_send_rec[1] failed: Unknown error -1";
/** §2 / §5.6: non-root CLI use. [inferred wording] */
export const cliNotRoot = "please run as root";
/** §2 pvesh: unknown path. */
export const pveshNoHandler = (cmd: string, path: string): string => `no '${cmd}' handler for '${path}'`;

/** §2 pvesm alloc. */
export const pvesmCreated = (volid: string): string => `successfully created '${volid}'`;
export const volumeNameIllegal = (name: string, vmid: number): string =>
  `illegal name '${name}' - should be 'vm-${vmid}-*'`;
export const volumeExists = (volid: string): string => `volume '${volid}' already exists`;
export const storageMissing = (storage: string): string => `storage '${storage}' does not exist`;
export const volumeMissing = (volid: string): string => `no such volume '${volid}'`;

/** §1.4 `resize` task: a disk key the VM does not have. [inferred wording, from qemu-server's resize_vm] */
export const resizeDiskMissing = (disk: string): string => `disk '${disk}' does not exist`;
/** Resizing refuses to make a disk smaller. [inferred wording, from qemu-server's resize_vm] */
export const resizeShrink = "shrinking disks is not supported";
/** A cdrom (not cloud-init) drive cannot be resized. [inferred wording, from qemu-server's resize_vm] */
export const resizeCdrom = "you can't resize a cdrom";
/** `size` outside `\+?\d+(\.\d+)?[KMGT]?`. [inferred wording: PVE's regex-pattern schema error] */
export const paramSizePattern = "value does not match the regex pattern";

/**
 * §1.5 root-only parameters (`skiplock`): any other authid — API tokens included, even
 * `root@pam!<id>` — gets 403. [inferred wording, from PVE's raise_perm_exc]
 */
export const onlyRoot = "Permission check failed (Only root may use this option.)";

/**
 * Firewall rules (pve-firewall verify_rule): `type=group` rules need a security-group-like name.
 * Proxmox itself stores a rule naming a group that does not exist (it only checks the name's
 * pattern); the simulator does the same, and the backends check `GET /cluster/firewall/groups`
 * themselves. [inferred wording, from pve-firewall's verify_rule]
 */
export const firewallGroupNameInvalid = "invalid characters in security group name";
export const firewallRuleTypeUnknown = (type: string): string => `unknown rule type '${type}'`;
export const firewallActionUnknown = (action: string): string => `unknown action '${action}'`;
export const firewallNoRule = (pos: number): string => `no rule at position ${pos}`;
/** pve-firewall set_options: `delete=` naming something that is not a VM firewall option. */
export const firewallNoSuchOption = (option: string): string => `no such option '${option}'`;
/** pve-common assert_if_modified: a firewall file changed since the digest was read. [inferred wording] */
export const firewallDigestMismatch = "detected modified configuration - file changed by other user? Try again.";
