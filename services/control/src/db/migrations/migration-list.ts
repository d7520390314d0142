import type { Migration } from "../migration.js";
import { initCoreTables } from "./0001-init-core-tables.js";
import { addJobSpecFields } from "./0002-add-job-spec-fields.js";
import { addArtifacts } from "./0003-add-artifacts.js";
import { normalizeTimestampsFixedWidthMs } from "./0004-normalize-timestamps-fixed-width-ms.js";
import { addSandboxOwnershipFields } from "./0005-add-sandbox-ownership-fields.js";
import { uniqueActiveSandboxNames } from "./0006-unique-active-sandbox-names.js";
import { addJobOrchestrationFields } from "./0007-add-job-orchestration-fields.js";
import { addReportTokens } from "./0008-add-report-tokens.js";
import { addArtifactUploadFields } from "./0009-add-artifact-upload-fields.js";
import { addJobLogs } from "./0010-add-job-logs.js";
import { addIdempotencyKeys } from "./0011-add-idempotency-keys.js";
import { addEventIndexes } from "./0012-add-event-indexes.js";

/** Every migration this binary knows, in order. Append only: never renumber or rename. */
export const MIGRATIONS: readonly Migration[] = [
  initCoreTables,
  addJobSpecFields,
  addArtifacts,
  normalizeTimestampsFixedWidthMs,
  addSandboxOwnershipFields,
  uniqueActiveSandboxNames,
  addJobOrchestrationFields,
  addReportTokens,
  addArtifactUploadFields,
  addJobLogs,
  addIdempotencyKeys,
  addEventIndexes,
];
