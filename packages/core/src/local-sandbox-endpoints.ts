/**
 * How a local sandbox reaches control and artifacts: it has no route to the host (network `none`),
 * so the host's guest-facing Unix sockets are bind-mounted into it at these fixed paths. The runner
 * mounts them; control writes the matching endpoints into the bootstrap document and payload.
 */

/** Inside the sandbox: control's guest socket (FetchBootstrap, ReportStatus, AppendLogs). */
export const SANDBOX_CONTROL_SOCKET = "/run/agentlab/control.sock";
/** Inside the sandbox: the artifacts service's guest socket (uploads only). */
export const SANDBOX_ARTIFACTS_SOCKET = "/run/agentlab/artifacts.sock";
/** The same two as Connect endpoints. */
export const SANDBOX_CONTROL_ENDPOINT = `unix://${SANDBOX_CONTROL_SOCKET}`;
export const SANDBOX_ARTIFACTS_ENDPOINT = `unix://${SANDBOX_ARTIFACTS_SOCKET}`;
