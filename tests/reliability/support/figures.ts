/**
 * The suite's figures: each test file records its counts under its own section of
 * docs/reliability.json at the end of its run, and docs/reliability.md is rewritten from that JSON
 * (scripts/reliability-report.mjs does the writing, so the lead can also run it by hand).
 */
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ROOT } from './cli.js';

export const FIGURES_JSON = path.join(ROOT, 'docs', 'reliability.json');

export interface Section {
  /** One line per figure: label -> number. */
  figures: Record<string, number>;
  /** Free notes (e.g. which kill points were hit). */
  details?: string[];
}

/** Merges `section` into docs/reliability.json and regenerates docs/reliability.md. */
export async function recordFigures(name: string, section: Section): Promise<void> {
  let all: { sections: Record<string, Section & { recorded: string }> } = { sections: {} };
  try {
    all = JSON.parse(await fs.readFile(FIGURES_JSON, 'utf8'));
  } catch {
    // first run: start empty
  }
  all.sections[name] = { ...section, recorded: new Date().toISOString() };
  await fs.mkdir(path.dirname(FIGURES_JSON), { recursive: true });
  await fs.writeFile(FIGURES_JSON, JSON.stringify(all, null, 2) + '\n');
  execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'reliability-report.mjs')], { cwd: ROOT, stdio: 'ignore' });
}

/** A counter set a test file fills as it goes. */
export class Counters {
  readonly figures: Record<string, number> = {};
  readonly details: string[] = [];
  add(label: string, n = 1): void {
    this.figures[label] = (this.figures[label] ?? 0) + n;
  }
  note(line: string): void {
    this.details.push(line);
  }
}
