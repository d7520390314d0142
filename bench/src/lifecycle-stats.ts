/** Percentiles and the printed table of the lifecycle benchmark. */

export function percentile(sortedMs: number[], p: number): number {
  if (sortedMs.length === 0) return Number.NaN;
  const rank = Math.min(sortedMs.length - 1, Math.max(0, Math.ceil((p / 100) * sortedMs.length) - 1));
  return sortedMs[rank] as number;
}

export function printTable(title: string, rows: Array<[string, string, string?]>): void {
  const width = Math.max(...rows.map(([name]) => name.length));
  const valueWidth = Math.max(...rows.map(([, value]) => value.length));
  process.stdout.write(`\n${title}\n`);
  for (const [name, value, goal] of rows) {
    process.stdout.write(`  ${name.padEnd(width)}  ${value.padStart(valueWidth)}${goal ? `   (goal ${goal})` : ""}\n`);
  }
}
