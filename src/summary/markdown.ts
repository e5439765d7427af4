/**
 * Markdown for job summaries (GITHUB_STEP_SUMMARY): small helpers every phase can share.
 */

/** Escapes a value for a table cell: pipes, new lines, and HTML the summary would render. */
export function cell(value: string | number | undefined | null): string {
  if (value === undefined || value === null || value === '') return '';
  return String(value).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\|/g, '\\|').replace(/\r?\n/g, '<br>');
}

/** Inline code; backticks inside are handled by a longer fence. */
export function code(value: string): string {
  if (value === '') return '';
  const longest = Math.max(0, ...[...value.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  const pad = value.startsWith('`') || value.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${value}${pad}${fence}`;
}

/**
 * A GitHub-flavoured markdown table. Cells are escaped unless they are marked raw with `raw()`
 * (e.g. output of `code()`).
 */
export function table(headers: string[], rows: (string | number | Raw | undefined | null)[][]): string {
  const render = (v: string | number | Raw | undefined | null) => (v instanceof Raw ? v.text : cell(v));
  const lines = [`| ${headers.map(cell).join(' | ')} |`, `| ${headers.map(() => '---').join(' | ')} |`, ...rows.map((row) => `| ${headers.map((_, i) => render(row[i])).join(' | ')} |`)];
  return lines.join('\n') + '\n';
}

/** Markdown that a table must not escape. */
export class Raw {
  constructor(readonly text: string) {}
}

export function raw(text: string): Raw {
  return new Raw(text);
}

/** A heading and a body, as one summary section. */
export function section(title: string, body: string): string {
  return `### ${title}\n\n${body.endsWith('\n') ? body : body + '\n'}`;
}

/** A fenced code block (text shown as it is); a fence longer than any run of backticks inside. */
export function codeBlock(text: string): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  return `${fence}text\n${text.replace(/\n$/, '')}\n${fence}\n`;
}
