// Writes the inputs and outputs of every action.yml (actions/<phase>/ and the root) into README.md,
// between the action-tables markers, so the README cannot drift from the actions.
// Usage: node scripts/gen-readme-tables.mjs        (scripts/check-readme.mjs checks without writing)
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import yaml from 'js-yaml';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const README = path.join(ROOT, 'README.md');
export const START = '<!-- action-tables:start -->';
export const END = '<!-- action-tables:end -->';
/** How the README names the repository that holds the actions; users replace it with their own. */
export const OWNER = 'your-org';

// Pipeline order first; any other action directory after them, alphabetically.
const ORDER = ['resolve', 'autotag', 'label', 'deploy', 'setup'];

/** The action.yml files: actions/<name>/action.yml in pipeline order, then the root action.yml. */
export function actionFiles(root = ROOT) {
  const dir = path.join(root, 'actions');
  const names = readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(path.join(dir, d.name, 'action.yml')))
    .map((d) => d.name)
    .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  const files = names.map((name) => ({ uses: `${OWNER}/gitenv/actions/${name}@v1`, file: `actions/${name}/action.yml` }));
  if (existsSync(path.join(root, 'action.yml'))) files.push({ uses: `${OWNER}/gitenv@v1`, file: 'action.yml' });
  return files;
}

function rank(name) {
  const i = ORDER.indexOf(name);
  return i === -1 ? ORDER.length : i;
}

/** A table cell: one line, pipes escaped. */
function cell(text) {
  return String(text).replace(/\r?\n/g, ' ').replace(/\|/g, '\\|').trim();
}

/** Prose from a description: `<env>` outside code spans would be read as an HTML tag. */
function prose(text) {
  return cell(
    String(text)
      .split(/(`[^`]*`)/)
      .map((part) => (part.startsWith('`') ? part : part.replace(/</g, '&lt;').replace(/>/g, '&gt;')))
      .join(''),
  );
}

function code(text) {
  // A value holding backticks is fenced with two, the markdown way.
  return String(text).includes('`') ? `\`\` ${text} \`\`` : `\`${text}\``;
}

function defaultCell(spec) {
  if (spec.default === undefined) return '';
  if (String(spec.default) === '') return '*(empty)*';
  return cell(code(spec.default));
}

/** The markdown for one action.yml. */
export function renderAction({ uses, file }, root = ROOT) {
  const doc = yaml.load(readFileSync(path.join(root, file), 'utf8'));
  const lines = [`### ${doc.name}`, '', `\`uses: ${uses}\` — ${prose(doc.description)} ([${file}](${file}))`, ''];
  const inputs = Object.entries(doc.inputs ?? {});
  if (inputs.length > 0) {
    lines.push('| Input | Required | Default | Description |', '| --- | --- | --- | --- |');
    for (const [name, spec] of inputs) {
      lines.push(`| \`${name}\` | ${spec.required ? 'yes' : 'no'} | ${defaultCell(spec)} | ${prose(spec.description ?? '')} |`);
    }
    lines.push('');
  }
  const outputs = Object.entries(doc.outputs ?? {});
  if (outputs.length > 0) {
    lines.push('| Output | Description |', '| --- | --- |');
    for (const [name, spec] of outputs) lines.push(`| \`${name}\` | ${prose(spec.description ?? '')} |`);
    lines.push('');
  }
  return lines.join('\n');
}

/** Everything that goes between the markers. */
export function renderTables(root = ROOT) {
  const note = '<!-- generated from the action.yml files by scripts/gen-readme-tables.mjs: edit those, then run it -->';
  return [note, '', ...actionFiles(root).map((a) => renderAction(a, root))].join('\n');
}

/** The README text with the generated part replaced; throws when the markers are missing. */
export function updateReadme(text, tables) {
  const start = text.indexOf(START);
  const end = text.indexOf(END);
  if (start === -1 || end === -1 || end < start) {
    throw new Error(`README.md needs the markers ${START} and ${END} (in that order) around the action tables`);
  }
  return `${text.slice(0, start + START.length)}\n${tables}\n${text.slice(end)}`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const before = readFileSync(README, 'utf8');
  const after = updateReadme(before, renderTables());
  if (after === before) {
    console.log('README.md action tables are up to date');
  } else {
    writeFileSync(README, after);
    console.log('README.md action tables rewritten from the action.yml files');
  }
}
