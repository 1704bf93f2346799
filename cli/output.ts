/**
 * How the CLI writes: results on stdout (tables for people, `--json` for scripts), progress and
 * warnings on stderr, so that a pipe or a redirect gets only the result.
 */

/** The slice of a stream the CLI writes to (process.stdout fits; tests hand in a buffer). */
export interface Output {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

export class Printer {
  constructor(
    readonly out: Output,
    readonly err: Output,
  ) {}

  line(text = ""): void {
    this.out.write(`${text}\n`);
  }

  json(value: unknown): void {
    this.out.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  warn(text: string): void {
    this.err.write(`${text}\n`);
  }

  /** Left-aligned columns, two spaces apart; "(none)" for no rows. */
  table(header: readonly string[], rows: readonly (readonly string[])[]): void {
    if (rows.length === 0) {
      this.line("  (none)");
      return;
    }
    const widths = header.map((title, column) =>
      Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)),
    );
    const format = (cells: readonly string[]) =>
      `  ${cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join("  ")}`.trimEnd();
    for (const row of [header, ...rows]) this.line(format(row));
  }
}

/** "45 s", "12 min", "3 h", "2 d": how long ago, at the precision an operator needs. */
export function age(since: string | undefined, now: Date): string {
  if (since === undefined) return "?";
  const seconds = Math.max(0, Math.round((now.getTime() - Date.parse(since)) / 1000));
  if (seconds < 90) return `${seconds} s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
  if (seconds < 36 * 3600) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86_400)} d`;
}

export function truncate(text: string, length: number): string {
  const flat = text.replace(/\s+/g, " ");
  return flat.length <= length ? flat : `${flat.slice(0, length - 1)}…`;
}

/**
 * Progress of a long step: a bar redrawn in place on a terminal, plain lines otherwise (a CI log,
 * a file), where each line is printed only when the message changes.
 */
export class Progress {
  readonly #stream: Output;
  #last = "";
  #drawn = false;

  constructor(stream: Output) {
    this.#stream = stream;
  }

  update(label: string, done: number, total?: number): void {
    if (this.#stream.isTTY) {
      const width = 24;
      const filled = total ? Math.round((Math.min(done, total) / total) * width) : 0;
      const bar = total ? `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ` : "";
      const counts = total ? `${done}/${total}` : `${done}`;
      this.#stream.write(`\r\x1b[2K${bar}${label} ${counts}`);
      this.#drawn = true;
      return;
    }
    const text = total ? `${label} ${done}/${total}` : `${label} ${done}`;
    if (text !== this.#last) this.#stream.write(`${text}\n`);
    this.#last = text;
  }

  /** Ends the bar's line, so that what follows starts on a fresh one. */
  done(): void {
    if (this.#drawn) this.#stream.write("\n");
    this.#drawn = false;
  }
}
