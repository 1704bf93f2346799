/**
 * Writes generated figures between two markers of a Markdown file and leaves the prose around them
 * alone, so that BENCHMARKS.md shows the figures of a real run, pasted by the run itself.
 */
import { readFileSync, writeFileSync } from "node:fs";

/** Replaces what lies between `<!-- name:begin -->` and `<!-- name:end -->` in `file`. */
export function writeMarkdownBlock(file: string, name: string, content: string): void {
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const text = readFileSync(file, "utf8");
  const start = text.indexOf(begin);
  const stop = text.indexOf(end);
  if (start < 0 || stop < start) throw new Error(`${file} has no ${begin} … ${end} block`);
  writeFileSync(file, `${text.slice(0, start + begin.length)}\n${content}\n${text.slice(stop)}`);
}
