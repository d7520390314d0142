/** ANSI colours for states, used only when the printer says colour is on. */
const CODES: Record<string, string> = { green: "32", red: "31", yellow: "33", dim: "2", bold: "1" };

export function paint(enabled: boolean, color: keyof typeof CODES, text: string): string {
  return enabled ? `\u001b[${CODES[color]}m${text}\u001b[0m` : text;
}

const STATE_COLORS: Record<string, keyof typeof CODES> = {
  READY: "green",
  RUNNING: "green",
  COMPLETED: "green",
  OK: "green",
  FAILED: "red",
  TIMEOUT: "red",
  INVALID: "red",
  CANCELED: "yellow",
  STOPPED: "yellow",
  STALE: "yellow",
  DESTROYED: "dim",
};

export function paintState(enabled: boolean, state: string): string {
  const color = STATE_COLORS[state];
  return color ? paint(enabled, color, state) : state;
}
