export { bearerToken, createBearerAuthInterceptor, tokensMatch } from "./bearer-auth.js";
export { ConfigError, type ConfigIssue, formatConfigIssue } from "./config/config-error.js";
export {
  CONFIG_REFERENCE_FILE,
  CONFIG_SCHEMA_FILE,
  configJsonSchema,
  DOCS_DIR,
  renderConfigJsonSchema,
  renderConfigReference,
  writeConfigJsonSchema,
  writeConfigReference,
} from "./config/config-reference.js";
export {
  CONFIG_KEYS,
  type ConfigFileInput,
  type ConfigFileValues,
  type ConfigKey,
  configFileSchema,
  DURATION_KEYS,
  runnerEntrySchema,
} from "./config/config-schema.js";
export { DEPRECATED_KEYS, type DeprecatedKey, RETIRED_KEYS } from "./config/deprecated-keys.js";
export { DURATION_FORMAT_HINT, formatDuration, parseDuration } from "./config/duration.js";
export { checkConfigFileMode } from "./config/file-mode-check.js";
export { closestKey, levenshtein } from "./config/key-suggestions.js";
export {
  CONFIG_PATH_ENV,
  type ConfigFileSystem,
  type ConfigOverrides,
  DEFAULT_CONFIG_PATH,
  type LoadConfigOptions,
  type LoadedConfig,
  loadConfig,
  nodeConfigFileSystem,
} from "./config/load-config.js";
export {
  type Cidr,
  deriveSubnet,
  formatCidr,
  formatHostPort,
  type HostPort,
  isLoopbackHost,
  isWildcardHost,
  parseCidr,
  parseHostPort,
} from "./config/network-address.js";
export { type AgentLabConfig, DEFAULT_VMID_RANGE, type RunnerEntry } from "./config/resolve-config.js";
export { type ConnectionProtocol, classifyFirstBytes, HTTP2_PREFACE } from "./connection-dispatch.js";
export {
  AlreadyExistsError,
  ConflictError,
  createErrorMappingInterceptor,
  DeadlineExceededError,
  DomainError,
  type DomainErrorDetails,
  FailedPreconditionError,
  GENERIC_INTERNAL_MESSAGE,
  httpStatusFor,
  InternalError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  ResourceExhaustedError,
  toConnectError,
  UnauthenticatedError,
  UnavailableError,
} from "./errors.js";
export { registerHealthService } from "./health-service.js";
export {
  DEFAULT_UNIX_SOCKET_MODE,
  type HttpRoutes,
  type ListenEndpoint,
  type Listener,
  type ListenOptions,
  listen,
  remoteAddressKey,
  VERSION_HEADER,
} from "./listener.js";
export {
  SANDBOX_ARTIFACTS_ENDPOINT,
  SANDBOX_ARTIFACTS_SOCKET,
  SANDBOX_CONTROL_ENDPOINT,
  SANDBOX_CONTROL_SOCKET,
} from "./local-sandbox-endpoints.js";
export { type CreateLoggerOptions, createLogger, type Logger } from "./logger.js";
export { ownerTagFor } from "./ownership.js";
export {
  createPeerTransport,
  type PeerEndpoint,
  type PeerTransportOptions,
  parsePeerEndpoint,
} from "./peer-transport.js";
export {
  createRequestContextInterceptor,
  createRequestIdForwardingInterceptor,
  currentRequestContext,
  currentRequestId,
  REQUEST_ID_HEADER,
  type RequestContext,
  type RequestContextInterceptorOptions,
  runWithRequestId,
} from "./request-context.js";
export { REDACTED, redactSecrets, SECRET_FIELD_NAMES, secretRedactionPaths } from "./secret-redaction.js";
export { MAX_UNIX_SOCKET_PATH_BYTES } from "./unix-socket-file.js";
export { type BuildInfo, buildInfo, versionLine } from "./version.js";
