import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  CONFIG_KEYS,
  CONFIG_REFERENCE_FILE,
  CONFIG_SCHEMA_FILE,
  configFileSchema,
  DOCS_DIR,
  renderConfigJsonSchema,
  renderConfigReference,
} from "../src/index.js";

const REGENERATE =
  "regenerate with: npx tsx -e 'import(\"@agentlab/core\").then((c) => { c.writeConfigJsonSchema(); c.writeConfigReference(); })'";

describe("generated configuration docs", () => {
  it("describes every key", () => {
    const undescribed = CONFIG_KEYS.filter((key) => !configFileSchema.shape[key].description);
    expect(undescribed).toEqual([]);
  });

  it(`docs/${CONFIG_SCHEMA_FILE} is fresh (${REGENERATE})`, () => {
    expect(readFileSync(join(DOCS_DIR, CONFIG_SCHEMA_FILE), "utf8")).toBe(renderConfigJsonSchema());
  });

  it(`docs/${CONFIG_REFERENCE_FILE} is fresh (${REGENERATE})`, () => {
    const committed = readFileSync(join(DOCS_DIR, CONFIG_REFERENCE_FILE), "utf8");
    expect(committed).toBe(renderConfigReference());
    for (const key of CONFIG_KEYS) expect(committed).toContain(`| \`${key}\``);
  });
});
