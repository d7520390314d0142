/**
 * The one place that turns command results into text. Every command returns a `CommandOutput`;
 * this module prints it as an aligned table (humans), JSON (DESIGN §1 conventions, lists as arrays)
 * or YAML. Colour only on a TTY and never with NO_COLOR.
 */
import type { JsonValue } from "@bufbuild/protobuf";
import Table from "cli-table3";
import YAML from "yaml";

export type OutputFormat = "table" | "json" | "yaml";

export const OUTPUT_FORMATS: readonly OutputFormat[] = ["table", "json", "yaml"];

export interface TableView {
  columns: string[];
  rows: string[][];
  /** Printed instead of an empty table, e.g. "no sandboxes". */
  empty?: string;
}

export interface CommandOutput {
  /** What json and yaml print: already in display-JSON form. */
  data: JsonValue;
  /** Human view: a table, or key/value lines, or free text. */
  table?: TableView;
  fields?: Array<[string, string]>;
  text?: string;
}

export interface Printer {
  format: OutputFormat;
  color: boolean;
  print(output: CommandOutput): void;
  /** A progress or follow line, printed as it comes (JSON formats print one JSON document per line). */
  line(text: string, data?: JsonValue): void;
}

export function createPrinter(
  format: OutputFormat,
  stream: NodeJS.WriteStream = process.stdout,
  env: NodeJS.ProcessEnv = process.env,
): Printer {
  const color = format === "table" && stream.isTTY === true && !("NO_COLOR" in env) && env.TERM !== "dumb";
  const write = (s: string) => stream.write(s.endsWith("\n") ? s : `${s}\n`);
  return {
    format,
    color,
    print(output) {
      write(renderOutput(output, format));
    },
    line(text, data) {
      if (format === "table" || data === undefined) write(text);
      else write(format === "json" ? JSON.stringify(data) : `---\n${YAML.stringify(data)}`);
    },
  };
}

export function renderOutput(output: CommandOutput, format: OutputFormat): string {
  if (format === "json") return JSON.stringify(output.data, null, 2);
  if (format === "yaml") return YAML.stringify(output.data).trimEnd();
  if (output.table) return renderTable(output.table);
  if (output.fields) return renderFields(output.fields);
  if (output.text !== undefined) return output.text;
  return JSON.stringify(output.data, null, 2);
}

const PLAIN_CHARS = {
  top: "",
  "top-mid": "",
  "top-left": "",
  "top-right": "",
  bottom: "",
  "bottom-mid": "",
  "bottom-left": "",
  "bottom-right": "",
  left: "",
  "left-mid": "",
  mid: "",
  "mid-mid": "",
  right: "",
  "right-mid": "",
  middle: "  ",
};

export function renderTable(view: TableView): string {
  if (view.rows.length === 0) return view.empty ?? "(none)";
  const table = new Table({
    head: view.columns,
    chars: PLAIN_CHARS,
    style: { head: [], border: [], "padding-left": 0, "padding-right": 0 },
  });
  for (const row of view.rows) table.push(row);
  return table
    .toString()
    .split("\n")
    .map((l) => l.trimEnd())
    .join("\n");
}

export function renderFields(fields: Array<[string, string]>): string {
  const width = Math.max(...fields.map(([k]) => k.length));
  return fields.map(([k, v]) => `${`${k}:`.padEnd(width + 1)} ${v}`).join("\n");
}
