import { type Document, isMap, isScalar, isSeq, type LineCounter, type Node } from "yaml";
import type { KeyPath } from "./profile-diagnostic.js";

export interface LinePosition {
  line: number;
  column: number;
}

/**
 * Maps a key path (from zod issues or our own checks) back to where it is written in the file. The
 * position is the key's, not the value's, so a nested mapping points at the line that names it. A
 * path that does not exist (a missing required key) resolves to its deepest existing ancestor, which
 * is where the operator has to add it. Offsets are file offsets because every document of a file is
 * parsed with one shared LineCounter.
 */
export class YamlKeyLocator {
  constructor(
    private readonly document: Document,
    private readonly lineCounter: LineCounter,
  ) {}

  locate(path: KeyPath): LinePosition {
    let node: unknown = this.document.contents;
    let offset = rangeStart(node) ?? this.document.range?.[0] ?? 0;
    for (const segment of path) {
      if (isMap(node)) {
        const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === String(segment));
        if (!pair) break;
        offset = rangeStart(pair.key) ?? offset;
        node = pair.value;
      } else if (isSeq(node) && typeof segment === "number") {
        const item = node.items[segment];
        if (item === undefined) break;
        offset = rangeStart(item) ?? offset;
        node = item;
      } else {
        break;
      }
    }
    const position = this.lineCounter.linePos(offset);
    return { line: position.line, column: position.col };
  }

  /** Where the document's content starts (after `---` and leading comments). */
  documentStart(): LinePosition {
    return this.locate([]);
  }
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as Node | null | undefined)?.range;
  return range ? range[0] : undefined;
}
