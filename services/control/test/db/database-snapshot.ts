import type Database from "better-sqlite3";

export interface DatabaseSnapshot {
  schema: { type: string; name: string; sql: string | null }[];
  rows: Record<string, unknown[]>;
}

/** Every schema object and every row of every table, in a stable order: row-for-row comparison. */
export function snapshotDatabase(db: Database.Database): DatabaseSnapshot {
  const schema = db
    .prepare(`SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name`)
    .all() as DatabaseSnapshot["schema"];
  const rows: Record<string, unknown[]> = {};
  for (const { name } of schema.filter((s) => s.type === "table")) {
    rows[name] = db.prepare(`SELECT * FROM "${name}" ORDER BY 1, 2`).all();
  }
  return { schema, rows };
}

/** Normalises whitespace so DDL written with different indentation compares equal. */
export function schemaShape(db: Database.Database): { name: string; sql: string }[] {
  return (
    db
      .prepare(`SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY name`)
      .all() as { name: string; sql: string }[]
  ).map((r) => ({ name: r.name, sql: r.sql.replace(/\s+/g, " ").replace(/\( /g, "(").replace(/ \)/g, ")").trim() }));
}

export function tableColumns(db: Database.Database, table: string): string[] {
  return (db.pragma(`table_info(${table})`) as { name: string }[]).map((c) => c.name);
}
