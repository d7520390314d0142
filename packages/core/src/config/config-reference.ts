import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { configFileSchema, DERIVED_DEFAULT_META } from "./config-schema.js";
import { DEPRECATED_KEYS } from "./deprecated-keys.js";

/** The repository's docs/ directory, from this file's place in packages/core/src/config/. */
export const DOCS_DIR = fileURLToPath(new URL("../../../../docs/", import.meta.url));
export const CONFIG_SCHEMA_FILE = "config.schema.json";
export const CONFIG_REFERENCE_FILE = "configuration.md";

type JsonSchemaProperty = {
  description?: string;
  default?: unknown;
  [DERIVED_DEFAULT_META]?: string;
  type?: string;
  enum?: unknown[];
  anyOf?: JsonSchemaProperty[];
};

/** JSON Schema of the config file, for editors (yaml-language-server `# $schema=` lines). */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configFileSchema, { io: "input", target: "draft-2020-12" }) as Record<string, unknown>;
  return {
    $schema: schema.$schema,
    $id: "https://agentlab.dev/schemas/config.schema.json",
    title: "AgentLab configuration (/etc/agentlab/config.yaml)",
    ...schema,
    // Unknown keys only warn at load time, so editors should not reject them outright.
    additionalProperties: true,
  };
}

export function renderConfigJsonSchema(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}

/** docs/configuration.md: one table row per key, generated from the schema's descriptions. */
export function renderConfigReference(): string {
  const properties = (configJsonSchema().properties ?? {}) as Record<string, JsonSchemaProperty>;
  const rows = Object.entries(properties).map(([key, property]) => {
    const derivedDefault = property[DERIVED_DEFAULT_META];
    const shownDefault =
      derivedDefault !== undefined
        ? `\`${derivedDefault}\``
        : property.default === undefined
          ? "—"
          : `\`${JSON.stringify(property.default)}\``;
    return [`\`${key}\``, shownDefault, describeType(property), escapeText(property.description ?? "")];
  });
  const deprecated = DEPRECATED_KEYS.map((d) => [
    `\`${d.key}\``,
    `\`${d.replacement}\``,
    `\`${d.key}: H\` becomes \`${d.example("H")}\``,
  ]);
  return [
    "# Configuration reference",
    "",
    "<!-- Generated from packages/core/src/config/config-schema.ts by writeConfigReference(); do not edit. -->",
    "",
    "Every AgentLab service reads one YAML file, `/etc/agentlab/config.yaml` (`--config <path>` or the",
    "`AGENTLAB_CONFIG` environment variable name another; no other environment variable sets keys).",
    "Keys are flat and snake_case. The file holds tokens: its mode must be `0600` or `0640` (group",
    "`agentlab`); anything more open is refused with the `chmod` to run.",
    "",
    "- **Durations** accept `90s`, `10m`, `2h`, `1h30m`, `500ms`, or an integer number of seconds.",
    "- **Unknown keys** are ignored with a warning naming the closest known key.",
    "- **Errors** name the file, line, key, the offending value and what is allowed; all of them are",
    "  reported at once (`--config-check`).",
    "- Editors can validate the file with [`config.schema.json`](config.schema.json): add",
    "  `# yaml-language-server: $schema=<path to config.schema.json>` as its first line.",
    "",
    ...markdownTable(["Key", "Default", "Type", "Meaning"], rows),
    "",
    "## Deprecated keys",
    "",
    "They still work, with a warning naming the replacement. Setting both the old and the new key to",
    "different values is an error.",
    "",
    ...markdownTable(["Key", "Replacement", "Conversion"], deprecated),
    "",
  ].join("\n");
}

/** Writes docs/config.schema.json; a test fails while the committed file differs. */
export function writeConfigJsonSchema(docsDir: string = DOCS_DIR): string {
  const path = join(docsDir, CONFIG_SCHEMA_FILE);
  writeFileSync(path, renderConfigJsonSchema());
  return path;
}

/** Writes docs/configuration.md; a test fails while the committed file differs. */
export function writeConfigReference(docsDir: string = DOCS_DIR): string {
  const path = join(docsDir, CONFIG_REFERENCE_FILE);
  writeFileSync(path, renderConfigReference());
  return path;
}

function describeType(property: JsonSchemaProperty): string {
  if (property.enum) return property.enum.map((v) => `\`${String(v)}\``).join(", ");
  if (property.anyOf) return property.anyOf.some((p) => p.type === "string") ? "duration" : "value";
  return property.type ?? "value";
}

/** Markdown emphasis characters in prose would be reformatted by biome; escape them. */
function escapeText(text: string): string {
  return text.replace(/([*_|<>])/g, "\\$1").replace(/\n/g, " ");
}

/** A table padded the way the formatter (biome) writes it, so the generated file is stable under it. */
function markdownTable(header: string[], rows: string[][]): string[] {
  const widths = header.map((title, column) =>
    Math.max(3, title.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
  const line = (cells: string[]) => `| ${cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join(" | ")} |`;
  return [line(header), `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`, ...rows.map(line)];
}
