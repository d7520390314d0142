/**
 * JSON as AgentLab prints and accepts it (DESIGN §1): proto field names (snake_case), enum values
 * without their type prefix (`"state": "RUNNING"`), integers as numbers (64-bit ones too, while they
 * fit in a double: sizes and ids here always do), timestamps as RFC 3339 UTC strings. The CLI's `--output json` and
 * every other JSON we print go through these two functions.
 */
import {
  create,
  type DescEnum,
  type DescField,
  type DescMessage,
  fromJson,
  type JsonObject,
  type JsonValue,
  type MessageShape,
  ScalarType,
  toJson,
} from "@bufbuild/protobuf";

type FieldValueMapper = (field: DescField, kind: "enum" | "scalar", value: JsonValue, enumDesc?: DescEnum) => JsonValue;

/** Converts a message to display JSON. Implicit fields (zero values) are included so output is stable. */
export function toDisplayJson<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): JsonObject {
  const json = toJson(schema, message, { useProtoFieldName: true, alwaysEmitImplicit: true }) as JsonObject;
  return mapFields(schema, json, (field, kind, value, enumDesc) => {
    if (kind === "enum" && enumDesc && typeof value === "string") return stripEnumPrefix(enumDesc, value);
    if (kind === "scalar" && typeof value === "string" && isLong(field)) return safeNumber(value);
    return value;
  });
}

/** Parses display JSON (prefixed or unprefixed enum names are both accepted). Unknown fields are errors. */
export function fromDisplayJson<Desc extends DescMessage>(schema: Desc, json: JsonValue): MessageShape<Desc> {
  if (json === null || typeof json !== "object" || Array.isArray(json)) return create(schema);
  const prefixed = mapFields(schema, structuredClone(json), (_field, kind, value, enumDesc) => {
    if (kind === "enum" && enumDesc && typeof value === "string") return addEnumPrefix(enumDesc, value);
    return value;
  });
  return fromJson(schema, prefixed);
}

/** The prefix every value of an enum shares, e.g. `SANDBOX_STATE_` (protobuf-es keeps it lower-case). */
function enumPrefix(desc: DescEnum): string {
  return (desc.sharedPrefix ?? "").toUpperCase();
}

/** `SANDBOX_STATE_RUNNING` → `RUNNING`. */
export function stripEnumPrefix(desc: DescEnum, name: string): string {
  const prefix = enumPrefix(desc);
  return prefix && name.startsWith(prefix) ? name.slice(prefix.length) : name;
}

/** `RUNNING` → `SANDBOX_STATE_RUNNING`; full names pass through. */
export function addEnumPrefix(desc: DescEnum, name: string): string {
  if (desc.values.some((v) => v.name === name)) return name;
  const full = `${enumPrefix(desc)}${name.toUpperCase()}`;
  return desc.values.some((v) => v.name === full) ? full : name;
}

/** Display name of an enum value by number, e.g. (SandboxStateSchema, 5) → "RUNNING". */
export function enumDisplayName(desc: DescEnum, value: number): string {
  const found = desc.values.find((v) => v.number === value);
  return found ? stripEnumPrefix(desc, found.name) : String(value);
}

const LONG_TYPES = new Set<ScalarType>([
  ScalarType.INT64,
  ScalarType.UINT64,
  ScalarType.SINT64,
  ScalarType.FIXED64,
  ScalarType.SFIXED64,
]);

function isLong(field: DescField): boolean {
  return "scalar" in field && field.scalar !== undefined && LONG_TYPES.has(field.scalar);
}

/** A 64-bit integer as a JSON number when exact; as the canonical string when it would lose digits. */
function safeNumber(text: string): JsonValue {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : text;
}

function mapFields(desc: DescMessage, json: JsonObject, map: FieldValueMapper): JsonObject {
  for (const field of desc.fields) {
    const key = field.name in json ? field.name : field.jsonName;
    const value = json[key];
    if (value === undefined || value === null) continue;
    json[key] = mapField(field, value, map);
  }
  return json;
}

function mapField(field: DescField, value: JsonValue, map: FieldValueMapper): JsonValue {
  switch (field.fieldKind) {
    case "scalar":
      return map(field, "scalar", value);
    case "enum":
      return map(field, "enum", value, field.enum);
    case "message":
      return mapMessage(field.message, value, map);
    case "list":
      if (!Array.isArray(value)) return value;
      if (field.listKind === "enum") return value.map((v) => map(field, "enum", v, field.enum));
      if (field.listKind === "message") return value.map((v) => mapMessage(field.message, v, map));
      return value.map((v) => map(field, "scalar", v));
    case "map": {
      if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
      const out: JsonObject = {};
      for (const [k, v] of Object.entries(value as JsonObject)) {
        if (field.mapKind === "enum") out[k] = map(field, "enum", v, field.enum);
        else if (field.mapKind === "message") out[k] = mapMessage(field.message, v, map);
        else out[k] = map(field, "scalar", v);
      }
      return out;
    }
  }
}

function mapMessage(desc: DescMessage, value: JsonValue, map: FieldValueMapper): JsonValue {
  // Well-known types (Timestamp, Struct, …) have their own JSON forms: leave them alone.
  if (desc.typeName.startsWith("google.protobuf.")) return value;
  if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
  return mapFields(desc, value, map);
}
